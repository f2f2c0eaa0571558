import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyImageToDir } from '../../../src/device/extract/apply.js';
import { tarArchive, tarEntryBytes, writeTestLayout } from '../../helpers/layers.js';

// Finding 1 of issue 9: a pax record "NN  path=..." (two blanks after the length) was read
// by ferry as the key " path" and ignored, while GNU tar's decode_record skips every blank
// and uses "path": the gate checked one name and tar wrote another, through a lower-layer
// symlink, outside the slot. These tests build such layers, show what GNU tar makes of
// them, and require ferry to refuse them.

let tmp: string;
let root: string;
let outside: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-paxdiff-'));
  root = path.join(tmp, 'jail', 'root');
  outside = path.join(tmp, 'outside');
  await fsp.mkdir(root, { recursive: true });
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'canary'), 'canary\n');
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** One pax record with `lead` between the length and the key, its length computed. */
function rec(lead: string, kv: string): string {
  const body = `${lead}${kv}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return `${len}${body}`;
}

/** What GNU tar lists for a layer (names only). */
function gnuTarNames(tar: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: tar, stdio: ['pipe', 'pipe', 'ignore'] }).toString('latin1').split('\n').filter(Boolean);
}

async function applyOverSymlink(layer2: Buffer): Promise<unknown> {
  const layer1 = tarArchive([{ name: 'lnk', type: '2', linkname: outside }]);
  const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar: layer1 }, { tar: layer2 }]);
  return applyImageToDir({ layout, image, ref: 'evil', root, progress: () => undefined });
}

function expectOutsideUntouched(): void {
  expect(fs.readdirSync(outside)).toEqual(['canary']);
  expect(fs.readFileSync(path.join(outside, 'canary'), 'utf8')).toBe('canary\n');
}

describe('pax records GNU tar reads differently from a naive parser', () => {
  for (const lead of ['  ', ' \t', '\t']) {
    it(`refuses a pax path with ${JSON.stringify(lead)} after the length (GNU tar would write lnk/canary)`, async () => {
      const layer2 = Buffer.concat([tarEntryBytes({ name: 'PaxHeaders/1', type: 'x', data: rec(lead, 'path=lnk/canary') }), tarEntryBytes({ name: 'innocent', data: 'pwned' }), Buffer.alloc(1024)]);
      expect(gnuTarNames(layer2)).toEqual(['lnk/canary']);
      await expect(applyOverSymlink(layer2)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
      expectOutsideUntouched();
    });
  }

  it('refuses a pax size with two blanks (GNU tar would see an entry hidden in the data)', async () => {
    // GNU tar: "a" has 512 bytes of data (block 1), then "lnk/pwned". A naive parser: "a" is
    // empty, block 1 is "decoy" whose 512 bytes of data hide the "lnk/pwned" header.
    const layer2 = Buffer.concat([
      tarEntryBytes({ name: 'PaxHeaders/1', type: 'x', data: rec('  ', 'size=512') }),
      tarEntryBytes({ name: 'a', size: 0 }),
      tarEntryBytes({ name: 'decoy', size: 512 }).subarray(0, 512),
      tarEntryBytes({ name: 'lnk/pwned' }),
      Buffer.alloc(1024),
    ]);
    expect(gnuTarNames(layer2)).toEqual(['a', 'lnk/pwned']);
    await expect(applyOverSymlink(layer2)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    expectOutsideUntouched();
  });

  it('refuses a duplicate key in one pax header (GNU tar applies the last one)', async () => {
    const layer2 = Buffer.concat([tarEntryBytes({ name: 'PaxHeaders/1', type: 'x', data: rec(' ', 'path=safe') + rec(' ', 'path=lnk/canary') }), tarEntryBytes({ name: 'innocent', data: 'pwned' }), Buffer.alloc(1024)]);
    expect(gnuTarNames(layer2)).toEqual(['lnk/canary']);
    await expect(applyOverSymlink(layer2)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    expectOutsideUntouched();
  });
});

import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAT_SUPER_MAGIC, grubenvWriteMode } from '../../../src/device/bootloaders/grub.js';
import { decodeGrubenv, encodeGrubenv, GRUBENV_SIGNATURE } from '../../../src/device/bootloaders/grubenv.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-grubenv-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('grubenv codec', () => {
  it('encodes a block of exactly 1024 bytes, signature first, padded with #', () => {
    const b = encodeGrubenv(new Map([['ORDER', 'A B'], ['A_OK', '1']]));
    expect(b.length).toBe(1024);
    expect(b.subarray(0, GRUBENV_SIGNATURE.length).toString()).toBe(GRUBENV_SIGNATURE);
    expect(b.toString('latin1')).toMatch(/^# GRUB Environment Block\nORDER=A B\nA_OK=1\n#+$/);
  });

  it('reads what the real grub-editenv writes, including escaped backslashes and newlines', async () => {
    const f = path.join(dir, 'from-grub');
    execFileSync('grub-editenv', [f, 'create']);
    execFileSync('grub-editenv', [f, 'set', 'ORDER=B A', 'B_TRY=2', 'odd=back\\slash\nnew line', 'empty=']);
    const vars = decodeGrubenv(await fsp.readFile(f));
    expect(Object.fromEntries(vars)).toEqual({ ORDER: 'B A', B_TRY: '2', odd: 'back\\slash\nnew line', empty: '' });
  });

  it('writes blocks the real grub-editenv lists and edits', async () => {
    const f = path.join(dir, 'from-ferry');
    await fsp.writeFile(f, encodeGrubenv(new Map([['ORDER', 'A B'], ['A_OK', '1'], ['note', 'x\\y']])));
    expect(execFileSync('grub-editenv', [f, 'list'], { encoding: 'utf8' })).toBe('ORDER=A B\nA_OK=1\nnote=x\\y\n');
    execFileSync('grub-editenv', [f, 'set', 'B_OK=0']);
    expect((await fsp.stat(f)).size).toBe(1024);
    expect(decodeGrubenv(await fsp.readFile(f)).get('B_OK')).toBe('0');
  });

  it('refuses a block without the signature and variables that do not fit', () => {
    expect(() => decodeGrubenv(Buffer.from('ORDER=A B\n'))).toThrow(/GRUB Environment Block/);
    expect(() => encodeGrubenv(new Map([['big', 'x'.repeat(1100)]]))).toThrow(/needs \d+ bytes/);
    expect(() => encodeGrubenv(new Map([['bad name', '1']]))).toThrow(/not a valid grubenv variable name/);
  });
});

describe('grubenv on FAT (the EFI System Partition)', () => {
  it('is rewritten in place there and replaced by rename elsewhere', () => {
    expect(grubenvWriteMode(FAT_SUPER_MAGIC)).toBe('in-place');
    expect(grubenvWriteMode(0xef53)).toBe('rename'); // ext4
  });

  it("keeps all of ferry's variables in the first 512-byte sector, so an in-place rewrite changes one sector", () => {
    const vars = new Map([['ORDER', 'B A'], ['A_OK', '1'], ['B_OK', '1'], ['A_TRY', '9'], ['B_TRY', '9'], ['FERRY_MAX_TRY', '9']]);
    const block = encodeGrubenv(vars);
    expect(block.length).toBe(1024);
    const text = block.toString('latin1');
    expect(text.lastIndexOf('\n')).toBeLessThan(512);
    expect(/^#+$/.test(text.slice(512))).toBe(true);
  });
});

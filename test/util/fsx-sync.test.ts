/**
 * fsx-sync.ts's twins give what fsx.ts's asynchronous reads give, case by case: the same value,
 * or the same error code and message (FIFOs, links to files and to folders, special files,
 * missing paths, caps), so `ferry verify` refuses exactly what the other commands refuse.
 */
import { execFileSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMediaDir, mediaFileSize, openRegular, readFileCapped } from '../../src/util/fsx.js';
import { listMediaDirSync, mediaFileSizeSync, openRegularSync, readFileCappedSync } from '../../src/util/fsx-sync.js';
import { unblockFifos } from '../media/hostile-fixture.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-fsx-sync-'));
  await fsp.mkdir(path.join(tmp, 'media', 'sub', 'folder'), { recursive: true });
  await fsp.writeFile(path.join(tmp, 'media', 'sub', 'file'), '0123456789');
  execFileSync('mkfifo', [path.join(tmp, 'media', 'sub', 'fifo')]);
  await fsp.symlink(path.join(tmp, 'media', 'sub', 'file'), path.join(tmp, 'media', 'sub', 'link'));
  await fsp.symlink(path.join(tmp, 'media', 'sub'), path.join(tmp, 'media', 'dirlink'));
});
afterAll(async () => {
  unblockFifos(tmp);
  await fsp.rm(tmp, { recursive: true, force: true });
});

const m = (...p: string[]) => path.join(tmp, 'media', ...p);

/** What a call came to: its value, or its error's code and message. */
async function outcome(f: () => unknown): Promise<unknown> {
  try {
    return { value: await f() };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { code: err.code, message: err.message };
  }
}

async function same(asyncCall: () => Promise<unknown>, syncCall: () => unknown): Promise<unknown> {
  const a = await outcome(asyncCall);
  expect(await outcome(syncCall)).toEqual(a);
  return a;
}

describe('fsx-sync twins', () => {
  const names = ['file', 'fifo', 'link', 'folder', 'nope'];

  it('readFileCapped: the same bytes or the same refusal, local, media and below a folder, under and over the cap', async () => {
    const codes = new Set<unknown>();
    for (const name of [...names.map((n) => m('sub', n)), m('dirlink', 'file')]) {
      for (const opts of [{}, { media: true }, { under: m() }]) {
        for (const cap of [100, 5]) {
          const r = (await same(
            async () => (await readFileCapped(name, cap, 'x', opts)).toString(),
            () => readFileCappedSync(name, cap, 'x', opts).toString(),
          )) as { code?: string };
          codes.add(r.code);
        }
      }
    }
    // every kind of answer was compared, not only successes
    expect([...codes].sort()).toEqual(['ENOENT', 'FILE_TOO_LARGE', 'INVALID_LAYOUT', 'UNSAFE_MEDIA', undefined].sort());
  });

  it('openRegular and mediaFileSize: the same size or the same refusal', async () => {
    for (const name of [...names.map((n) => m('sub', n)), m('dirlink', 'file')]) {
      await same(
        async () => {
          const { fh, size } = await openRegular(name, 'x', { under: m() });
          await fh.close();
          return size;
        },
        () => {
          const { fd, size } = openRegularSync(name, 'x', { under: m() });
          closeSync(fd);
          return size;
        },
      );
      await same(() => mediaFileSize(m(), name), () => mediaFileSizeSync(m(), name));
    }
    expect(mediaFileSizeSync(m(), m('sub', 'file'))).toBe(10);
  });

  it('listMediaDir: the same names or the same refusal', async () => {
    const sorted = (l: { name: string }[] | undefined) => l?.map((e) => e.name).sort();
    for (const dir of [m('sub'), m('dirlink'), m('absent'), m('sub', 'file')]) {
      for (const cap of [10, 2]) await same(async () => sorted(await listMediaDir(m(), dir, cap)), () => sorted(listMediaDirSync(m(), dir, cap)));
    }
    expect(sorted(listMediaDirSync(m(), m('sub'), 10))).toEqual(['fifo', 'file', 'folder', 'link']);
  });
});

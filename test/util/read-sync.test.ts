import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMediaDirSync, readSmallFileSync } from '../../src/util/read-sync.js';

let dir: string;
const p = (n: string) => path.join(dir, n);
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-read-sync-'));
  await fsp.writeFile(p('ok.json'), '{"a":1}');
  await fsp.writeFile(p('big.json'), Buffer.alloc(2049, 0x20));
  execFileSync('mkfifo', [p('fifo')]);
  await fsp.symlink(p('ok.json'), p('link'));
  await fsp.mkdir(p('folder'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('readSmallFileSync', () => {
  it('reads a regular file up to the cap, and refuses one a byte over it', () => {
    expect(readSmallFileSync(p('ok.json'), 7, 'receipt').toString()).toBe('{"a":1}');
    expect(() => readSmallFileSync(p('big.json'), 2048, 'receipt')).toThrow(expect.objectContaining({ code: 'FILE_TOO_LARGE', message: expect.stringMatching(/2049 bytes, over the 2048-byte cap/) }));
  });

  it('refuses a FIFO without hanging, and a folder', () => {
    expect(() => readSmallFileSync(p('fifo'), 1024, 'device certificate')).toThrow(expect.objectContaining({ code: 'INVALID_LAYOUT' }));
    expect(() => readSmallFileSync(p('fifo'), 1024, 'receipt', { media: true })).toThrow(expect.objectContaining({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/is a FIFO/) }));
    expect(() => readSmallFileSync(p('folder'), 1024, 'receipt', { media: true })).toThrow(expect.objectContaining({ code: 'UNSAFE_MEDIA' }));
  });

  it('on media refuses a symbolic link even to a good file', () => {
    expect(() => readSmallFileSync(p('link'), 1024, 'receipt', { media: true })).toThrow(expect.objectContaining({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/symbolic link/) }));
  });
});

describe('listMediaDirSync', () => {
  it('lists a folder, refuses one reached through a link or with too many entries, and says when it is absent', async () => {
    await fsp.mkdir(p('media/FERRY/receipts/dev-1'), { recursive: true });
    await fsp.writeFile(p('media/FERRY/receipts/dev-1/a.json'), '{}');
    await fsp.writeFile(p('media/FERRY/receipts/dev-1/b.json'), '{}');
    expect(listMediaDirSync(p('media'), p('media/FERRY/receipts/dev-1'), 10)!.map((e) => e.name).sort()).toEqual(['a.json', 'b.json']);
    expect(() => listMediaDirSync(p('media'), p('media/FERRY/receipts/dev-1'), 1)).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
    expect(listMediaDirSync(p('media'), p('media/FERRY/receipts/dev-2'), 10)).toBeUndefined();
    await fsp.symlink(p('media/FERRY/receipts/dev-1'), p('media/FERRY/receipts/dev-3'));
    expect(() => listMediaDirSync(p('media'), p('media/FERRY/receipts/dev-3'), 10)).toThrow(expect.objectContaining({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/symbolic link/) }));
  });
});

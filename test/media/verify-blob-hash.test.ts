import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile, ReadBuffers } from '../../src/media/blob-hash.js';
import { sha, tempDir } from './fixtures.js';

let dir: string;
let file: string;
let bytes: Buffer;
const MiB = 1024 * 1024;

beforeAll(async () => {
  dir = await tempDir('ferry-blob-hash-');
  // 21 MiB + 7: more than two 8 MiB stretches between yields, and a short last chunk
  bytes = Buffer.alloc(21 * MiB + 7);
  for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE((i * 2654435761) >>> 0, i);
  file = path.join(dir, 'blob');
  await fsp.writeFile(file, bytes);
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('hashFile', () => {
  // inline only, read ahead from the start, and a switch at a chunk boundary and inside the first chunk
  for (const inlineBytes of [undefined, 0, 3 * MiB, 1]) {
    it(`gives the file's digest and size, reading ${inlineBytes ?? 'all'} bytes on this thread, with progress to the end`, async () => {
      let seen = 0;
      const r = await hashFile(file, (n) => (seen += n), undefined, inlineBytes === undefined ? {} : { inlineBytes });
      expect(r).toEqual({ digest: sha(bytes), size: bytes.length });
      expect(seen).toBe(bytes.length);
    });

    it(`hashes exactly a byte range (a blob inside an archive), reading ${inlineBytes ?? 'all'} bytes on this thread`, async () => {
      const start = 5 * MiB + 3;
      const size = 9 * MiB + 11;
      const r = await hashFile(file, undefined, { start, size }, inlineBytes === undefined ? {} : { inlineBytes });
      expect(r).toEqual({ digest: sha(bytes.subarray(start, start + size)), size });
    });
  }

  it('hashes on this thread while another core is free, and asks for it only at 8 MiB stretches', async () => {
    let asked = 0;
    // copies never worth handing over: every byte read here, the predicate asked at the two stretches of 21 MiB
    expect(await hashFile(file, undefined, undefined, { overlap: () => (asked++, true), copyShare: Infinity })).toEqual({ digest: sha(bytes), size: bytes.length });
    expect(asked).toBeLessThanOrEqual(2);
    // a blob of two chunks has no stretch: read here without asking
    asked = 0;
    expect(await hashFile(file, undefined, { start: 0, size: 2 * MiB }, { overlap: () => (asked++, true) })).toEqual({ digest: sha(bytes.subarray(0, 2 * MiB)), size: 2 * MiB });
    expect(asked).toBe(0);
  });

  it('switches to reading ahead at the first 8 MiB stretch with a core free once the copies count', async () => {
    // copyShare 0: any copy counts; without the switch the predicate would be asked at both stretches
    let asked = 0;
    let seen = 0;
    expect(await hashFile(file, (n) => (seen += n), { start: 1, size: bytes.length - 1 }, { overlap: () => (asked++, true), copyShare: 0 })).toEqual({ digest: sha(bytes.subarray(1)), size: bytes.length - 1 });
    // 1, or 0 when reads slower than the hash switched before the stretch
    expect(asked).toBeLessThanOrEqual(1);
    expect(seen).toBe(bytes.length - 1);
  });

  it('reports the bytes there are when the file is shorter than its range (a truncated blob)', async () => {
    for (const inlineBytes of [undefined, 0]) {
      const r = await hashFile(file, undefined, { start: bytes.length - 100, size: 1000 }, inlineBytes === undefined ? {} : { inlineBytes });
      expect(r).toEqual({ digest: sha(bytes.subarray(bytes.length - 100)), size: 100 });
    }
  });

  it('hashes an empty file and reuses one set of buffers from file to file', async () => {
    const empty = path.join(dir, 'empty');
    await fsp.writeFile(empty, '');
    const bufs = new ReadBuffers();
    expect(await hashFile(empty, undefined, undefined, { bufs })).toEqual({ digest: sha(Buffer.alloc(0)), size: 0 });
    const first = bufs.get(0);
    expect(await hashFile(file, undefined, undefined, { bufs, inlineBytes: 2 * MiB })).toEqual({ digest: sha(bytes), size: bytes.length });
    expect(bufs.get(0)).toBe(first);
  });

  it('refuses what is not a regular file, on either path', async () => {
    const folder = path.join(dir, 'folder');
    await fsp.mkdir(folder);
    for (const inlineBytes of [undefined, 0]) {
      await expect(hashFile(folder, undefined, undefined, inlineBytes === undefined ? {} : { inlineBytes })).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    }
  });
});

import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/errors.js';
import { type FileEntry, entryLine, indexHeaderLine, INDEX_END_LINE } from '../../../src/device/files/file-index.js';
import { IndexStream } from '../../../src/device/files/index-reader.js';

const IMAGE = `sha256:${'a'.repeat(64)}`;
const entry = (i: number): FileEntry => ({ path: `usr/share/f${String(i).padStart(6, '0')}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: i, mtime: '1700000000', sha256: 'b'.repeat(64) });

function gzIndex(n: number): Buffer {
  const lines = [indexHeaderLine(IMAGE), ...Array.from({ length: n }, (_, i) => entryLine(entry(i)) + (i < n - 1 ? ',' : '')), INDEX_END_LINE];
  return gzipSync(`${lines.join('\n')}\n`);
}

/** The compressed bytes in 4 KiB pieces, counting how many were pulled. */
function counted(gz: Buffer): { stream: Readable; pulled: () => number; pieces: number } {
  let pulled = 0;
  const pieces = Math.ceil(gz.length / 4096);
  function* gen(): Generator<Buffer> {
    for (let i = 0; i < pieces; i++) {
      pulled++;
      yield gz.subarray(i * 4096, (i + 1) * 4096);
    }
  }
  return { stream: Readable.from(gen(), { objectMode: false, highWaterMark: 4096 }), pulled: () => pulled, pieces };
}

describe('IndexStream', () => {
  it('yields every entry in order and the image, then checks the end', async () => {
    const s = new IndexStream(Readable.from([gzIndex(1000)]), 'test index');
    expect(await s.image()).toBe(IMAGE);
    const got: FileEntry[] = [];
    for await (const e of s) got.push(e);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => entry(i)));
  });

  it('reads the compressed stream only as far as entries are pulled (never the whole index at once)', async () => {
    const c = counted(gzIndex(200_000));
    expect(c.pieces).toBeGreaterThan(100);
    const s = new IndexStream(c.stream, 'test index');
    for (let i = 0; i < 10; i++) expect((await s.read())?.path).toBe(entry(i).path);
    // a window of a few pieces, not the index
    expect(c.pulled()).toBeLessThan(c.pieces / 4);
    s.close();
  });

  it('refuses a truncated index with CORRUPT_FILE_INDEX when the end is reached', async () => {
    const full = gzipSync(`${[indexHeaderLine(IMAGE), `${entryLine(entry(1))},`, entryLine(entry(2))].join('\n')}\n`);
    const s = new IndexStream(Readable.from([full]), 'test index');
    await expect((async () => {
      for await (const _ of s) void _;
    })()).rejects.toMatchObject({ code: 'CORRUPT_FILE_INDEX' });
  });

  it('passes on the error of the stream it reads (a digest mismatch stays what it is)', async () => {
    const gz = gzIndex(100);
    const src = new Readable({ read() {} });
    src.push(gz.subarray(0, 100));
    const s = new IndexStream(src, 'test index');
    const err = new FerryError('DIGEST_MISMATCH', 'test blob: digest mismatch');
    setTimeout(() => src.destroy(err), 10);
    await expect((async () => {
      for await (const _ of s) void _;
    })()).rejects.toBe(err);
  });
});

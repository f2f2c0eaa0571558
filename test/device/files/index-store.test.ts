import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileIndex } from '../../../src/device/files/file-index.js';
import { readIndexFile, readIndexStream, writeIndexFile } from '../../../src/device/files/index-store.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-files-store-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Paths are byte strings (latin1: one char per byte). */
const IMAGE = `sha256:${'a'.repeat(64)}`;
const index: FileIndex = {
  image: IMAGE,
  entries: [
    { path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: '1700000000' },
    { path: 'bin', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: '1700000000', link: 'usr/bin' },
    { path: 'dev/sda', type: 'block', mode: 0o660, uid: 0, gid: 6, size: 0, mtime: '1700000000.5', rdev: '8:0' },
    { path: Buffer.from('etc/été').toString('latin1'), type: 'file', mode: 0o644, uid: 300000, gid: 3_000_000_000, size: 3, mtime: '1', sha256: 'b'.repeat(64), xattrs: `sha256:${'c'.repeat(64)}` },
    { path: 'x\u00ff', type: 'fifo', mode: 0o600, uid: 0, gid: 0, size: 0, mtime: '2' }, // the byte 0xff alone: not UTF-8
  ],
};

async function parse(gz: Buffer): Promise<FileIndex> {
  const entries: FileIndex['entries'] = [];
  const image = await readIndexStream(Readable.from([gz]), 'test index', (e) => entries.push(e));
  return { image, entries };
}

describe('file index files', () => {
  it('round-trip every field, names that are not UTF-8 included, as a plain JSON document with one entry per line', async () => {
    const file = path.join(tmp, 'files', 'B.json.gz');
    await writeIndexFile(file, index);
    expect(await readIndexFile(file, 'slot B')).toEqual(index);
    const text = gunzipSync(await fsp.readFile(file)).toString('utf8');
    expect(text.split('\n')).toHaveLength(index.entries.length + 3);
    const doc = JSON.parse(text);
    expect(doc.schema).toBe('ferry.files/v1');
    expect(doc.entries[3].path).toBe('etc/été');
    expect(doc.entries[4]).toMatchObject({ pathHex: '78ff' });
    expect(await fsp.readdir(path.dirname(file))).toEqual(['B.json.gz']); // no temp left
  });

  it('refuse damaged indexes with CORRUPT_FILE_INDEX', async () => {
    const file = path.join(tmp, 'ok.json.gz');
    await writeIndexFile(file, index);
    const good = gunzipSync(await fsp.readFile(file)).toString('utf8');
    const lines = good.split('\n');
    const variants = [
      good.slice(0, good.length - 4), // truncated
      [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n'), // unsorted
      good.replace('"type":"fifo"', '"type":"socket"'),
      good.replace('"mode":420', '"mode":420,"extra":1'),
      good.replace('"sha256":"bbbb', '"sha256":"zzzz'),
      good.replace('ferry.files/v1', 'ferry.files/v9'),
    ];
    for (const v of variants) await expect(parse(gzipSync(v))).rejects.toMatchObject({ code: 'CORRUPT_FILE_INDEX' });
    await expect(parse(Buffer.from('not gzip'))).rejects.toMatchObject({ code: 'CORRUPT_FILE_INDEX' });
    expect(await parse(gzipSync(good))).toEqual(index);
  });

  it('answers undefined for a slot without an index', async () => {
    expect(await readIndexFile(path.join(tmp, 'none.json.gz'), 'slot A')).toBeUndefined();
  });
});

import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasMemberHeader, trustedGzipSize, unpackedSizeOfBlob } from '../../src/oci/unpacked-size.js';
import { sampleBytes } from '../helpers/samples.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-unpacked-size-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

async function file(name: string, bytes: Buffer): Promise<string> {
  const f = path.join(dir, name);
  await fsp.writeFile(f, bytes);
  return f;
}

describe('reading a layer blob\'s unpacked size without decoding it', () => {
  it('trusts a single-member gzip trailer, and not one where a second member may start (found across read chunks too)', async () => {
    const data = sampleBytes('gz', 300_000);
    expect(await unpackedSizeOfBlob(await file('one.gz', gzipSync(data)), 'gzip')).toBe(data.length);
    // a second member whose header straddles the 1 MiB read boundary (1f 8b | 08 ..)
    const want = 1024 * 1024 - 2;
    let len = want - 100;
    let a = gzipSync(sampleBytes('x', len), { level: 0 });
    while (a.length !== want) a = gzipSync(sampleBytes('x', (len += want - a.length)), { level: 0 });
    const two = Buffer.concat([a, gzipSync(data)]);
    expect(hasMemberHeader(two, 1)).toBe(true);
    expect(await unpackedSizeOfBlob(await file('two.gz', two), 'gzip')).toBeUndefined();
  });

  it('refuses a trailer that may have wrapped at 4 GiB, or that is smaller than any single member could be', () => {
    expect(trustedGzipSize(1000, 5000, false)).toBe(5000);
    expect(trustedGzipSize(1000, 5000, true)).toBeUndefined();
    // 100 MB compressed could hold 103 GB: ISIZE mod 2^32 is ambiguous
    expect(trustedGzipSize(100e6, 300e6, false)).toBeUndefined();
    // 4 MB compressed holds at most ~4.1 GB, below 2^32: no wrap possible
    expect(trustedGzipSize(4e6, 9e6, false)).toBe(9e6);
    expect(trustedGzipSize(10, 0, false)).toBeUndefined(); // shorter than a gzip header + trailer
  });

  it('sums zstd frame content sizes (zstd tool, two frames) and omits a streamed frame without one', async () => {
    const a = sampleBytes('a', 200_000);
    const b = Buffer.alloc(500_000, 7);
    const fa = await file('a.bin', a);
    const fb = await file('b.bin', b);
    execFileSync('zstd', ['-q', '-f', fa, fb]);
    const both = Buffer.concat([await fsp.readFile(`${fa}.zst`), await fsp.readFile(`${fb}.zst`)]);
    expect(await unpackedSizeOfBlob(await file('two.zst', both), 'zstd')).toBe(a.length + b.length);
    const streamed = execFileSync('sh', ['-c', `cat ${fb} | zstd -q -c`]);
    expect(await unpackedSizeOfBlob(await file('s.zst', streamed), 'zstd')).toBeUndefined();
    expect(await unpackedSizeOfBlob(await file('t.tar', a), 'none')).toBe(a.length);
  });
});

/** chunkVerifiedStream: a streamed blob (a site registry) checked chunk by chunk against the signed chunk index. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkVerifiedStream } from '../../src/oci/chunk-reader.js';
import type { Descriptor } from '../../src/oci/types.js';
import { sampleBytes } from '../helpers/samples.js';

const CHUNK = 1000;
const blob = sampleBytes('chunk-stream', 3500);
const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = [0, 1, 2, 3].map((i) => hex(blob.subarray(i * CHUNK, (i + 1) * CHUNK)));
const desc: Descriptor = { mediaType: 'application/octet-stream', digest: `sha256:${hex(blob)}`, size: blob.length };

/** Feed `bytes` in uneven pieces (as a network does) and collect what comes out, with the error if any. */
async function run(bytes: Buffer, d = desc): Promise<{ out: Buffer[]; err?: unknown }> {
  const pieces: Buffer[] = [];
  for (let off = 0, n = 1; off < bytes.length; off += n, n = (n * 7) % 613 + 1) pieces.push(bytes.subarray(off, off + n));
  const out: Buffer[] = [];
  try {
    for await (const c of chunkVerifiedStream(Readable.from(pieces), d, chunks, CHUNK, 'layer 1')) out.push(c as Buffer);
    return { out };
  } catch (err) {
    return { out, err };
  }
}

describe('chunkVerifiedStream', () => {
  it('passes the whole blob on when every chunk matches', async () => {
    const { out, err } = await run(blob);
    expect(err).toBeUndefined();
    expect(Buffer.concat(out).equals(blob)).toBe(true);
  });

  it('stops at the first altered chunk: nothing of it or after it is passed on', async () => {
    const bad = Buffer.from(blob);
    bad[2500] = bad[2500]! ^ 1;
    const { out, err } = await run(bad);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', details: { chunk: 2 } });
    expect(Buffer.concat(out).equals(blob.subarray(0, 2000))).toBe(true);
  });

  it('refuses a blob that is short or long (SIZE_MISMATCH)', async () => {
    expect((await run(blob.subarray(0, 3000))).err).toMatchObject({ code: 'SIZE_MISMATCH' });
    expect((await run(Buffer.concat([blob, Buffer.from('x')]))).err).toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('refuses chunks that match the index when the blob does not match its own digest', async () => {
    const { err } = await run(blob, { ...desc, digest: `sha256:${'0'.repeat(64)}` });
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});

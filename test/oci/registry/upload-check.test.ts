import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/oci/digest.js';
import { UploadCheck } from '../../../src/oci/registry/upload-check.js';

function blob(size: number) {
  const bytes = randomBytes(size);
  return { bytes, desc: { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size } };
}

/** Send `src` (in pieces of `piece` bytes) through the tap; what came out, and the error if any. */
async function send(tap: Transform, src: Buffer, piece = 1000): Promise<{ out: Buffer; err?: unknown }> {
  const parts: Buffer[] = [];
  for (let o = 0; o < src.length; o += piece) parts.push(src.subarray(o, o + piece));
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from(parts), tap, async (s: AsyncIterable<Buffer>) => {
      for await (const c of s) out.push(c);
    });
    return { out: Buffer.concat(out) };
  } catch (err) {
    return { out: Buffer.concat(out), err };
  }
}

describe('UploadCheck', () => {
  it('passes a matching blob through whole', async () => {
    const { bytes, desc } = blob(10_000);
    const r = await send(new UploadCheck(desc, 'blob').tap(), bytes);
    expect(r.err).toBeUndefined();
    expect(r.out.equals(bytes)).toBe(true);
  });

  it('holds back the last bytes of an altered blob and fails with DIGEST_MISMATCH', async () => {
    const { bytes, desc } = blob(10_000);
    const altered = Buffer.from(bytes);
    altered[5000] = altered[5000]! ^ 1;
    const r = await send(new UploadCheck(desc, 'blob').tap(), altered);
    expect(isFerryError(r.err, 'DIGEST_MISMATCH')).toBe(true);
    expect(r.out.length).toBeLessThan(desc.size); // the upload body never completes
  });

  it('checks a blob sent in parts and sent again from an earlier offset, hashing each byte once', async () => {
    const { bytes, desc } = blob(10_000);
    const check = new UploadCheck(desc, 'blob');
    // a part of 4000 bytes, refused after it was read; the same offset again in two halves; the rest
    for (const [s, e] of [[0, 3999], [0, 1999], [2000, 3999], [4000, 9999]] as const) {
      const r = await send(check.tap(s, e), bytes.subarray(s, e + 1), 700);
      expect(r.err).toBeUndefined();
      expect(r.out.equals(bytes.subarray(s, e + 1))).toBe(true);
    }
    // after the whole blob matched, a body sent again (an auth challenge) passes whole
    expect((await send(check.tap(), bytes)).out.equals(bytes)).toBe(true);
  });

  it('fails every later stream of a blob that did not match, at its first byte', async () => {
    const { bytes, desc } = blob(3000);
    const check = new UploadCheck(desc, 'blob');
    const altered = Buffer.from(bytes);
    altered[2999] = altered[2999]! ^ 1;
    expect(isFerryError((await send(check.tap(), altered)).err, 'DIGEST_MISMATCH')).toBe(true);
    const again = await send(check.tap(), bytes);
    expect(isFerryError(again.err, 'DIGEST_MISMATCH')).toBe(true);
    expect(again.out.length).toBe(0);
  });

  it('refuses a file shorter or longer than its descriptor (SIZE_MISMATCH), and a part out of order', async () => {
    const { bytes, desc } = blob(5000);
    expect(isFerryError((await send(new UploadCheck(desc, 'blob').tap(), bytes.subarray(0, 4000))).err, 'SIZE_MISMATCH')).toBe(true);
    expect(isFerryError((await send(new UploadCheck(desc, 'blob').tap(), Buffer.concat([bytes, Buffer.from('x')]))).err, 'SIZE_MISMATCH')).toBe(true);
    expect(isFerryError((await send(new UploadCheck(desc, 'blob').tap(1000, 4999), bytes.subarray(1000))).err, 'INTERNAL')).toBe(true);
  });

  it('checks an empty blob against its digest too', async () => {
    const empty = { mediaType: 'application/octet-stream', digest: sha256Digest(Buffer.alloc(0)), size: 0 };
    expect((await send(new UploadCheck(empty, 'blob').tap(), Buffer.alloc(0))).err).toBeUndefined();
    const lie = { ...empty, digest: sha256Digest(Buffer.from('x')) };
    expect(isFerryError((await send(new UploadCheck(lie, 'blob').tap(), Buffer.alloc(0))).err, 'DIGEST_MISMATCH')).toBe(true);
  });
});

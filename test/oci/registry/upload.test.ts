/**
 * Blob uploads against a real registry (docker-registry on 127.0.0.1, through the fault
 * proxy that logs requests): in one PUT, in parts (PATCH with Content-Range to each
 * Location, then PUT ?digest=) for a large blob, and in parts again after a proxy refuses
 * the whole body (413). skopeo and a GET read the blob back byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../../src/oci/digest.js';
import { RegistryClient, readCapped } from '../../../src/oci/registry/client.js';
import { parseRegistryRef } from '../../../src/oci/registry/reference.js';
import { type BlobOpener, bytesOpener, hasBlob, pushBlob } from '../../../src/oci/registry/upload.js';
import { UploadCheck } from '../../../src/oci/registry/upload-check.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/registry-proxy.js';

const KiB = 1024;
let reg: TestRegistry;
let proxy: FaultProxy;
let n = 0;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await reg?.stop();
});

beforeEach(() => {
  for (const k of Object.keys(proxy.faults)) delete proxy.faults[k as keyof typeof proxy.faults];
  proxy.seen.length = 0;
});

function blob(size: number): { bytes: Buffer; desc: Descriptor } {
  const bytes = randomBytes(size);
  return { bytes, desc: { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size } };
}

async function client(): Promise<RegistryClient> {
  return RegistryClient.open(parseRegistryRef(`${proxy.host}/up${n++}:1`), { tlsVerify: false });
}

/** The blob as the registry serves it. */
async function readBack(c: RegistryClient, d: Descriptor): Promise<Buffer> {
  return readCapped((await c.blob(d.digest, 0)).res, d.size + 1, 'blob');
}

describe('blob uploads', () => {
  it('uploads a blob up to the threshold in one PUT', async () => {
    const c = await client();
    const { bytes, desc } = blob(300 * KiB);
    expect(await pushBlob(c, desc, bytesOpener(bytes), undefined, { chunkedOver: 1024 * KiB })).toBe('uploaded');
    expect(proxy.seen.filter((r) => r.method === 'PATCH')).toEqual([]);
    expect((await readBack(c, desc)).equals(bytes)).toBe(true);
    c.close();
  });

  it('uploads a larger blob in parts: PATCH with Content-Range to each Location, then PUT ?digest=', async () => {
    const c = await client();
    const { bytes, desc } = blob(300 * KiB + 5);
    expect(await pushBlob(c, desc, bytesOpener(bytes), undefined, { chunkedOver: 100 * KiB, partSize: 100 * KiB })).toBe('uploaded');
    const patches = proxy.seen.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.contentRange)).toEqual(['0-102399', '102400-204799', '204800-307199', '307200-307204']);
    // each part went to the Location the last answer gave (the registry's upload state changes)
    expect(new Set(patches.map((r) => r.path)).size).toBe(4);
    const put = proxy.seen.filter((r) => r.method === 'PUT');
    expect(put).toHaveLength(1);
    expect(put[0]!.path).toContain(`digest=${encodeURIComponent(desc.digest)}`);
    expect(await hasBlob(c, desc.digest)).toBe(true);
    expect((await readBack(c, desc)).equals(bytes)).toBe(true);
    c.close();
  });

  it('falls back to parts when a proxy refuses the whole body (413), halving them while refused', async () => {
    const c = await client();
    const MiB = 1024 * KiB;
    const { bytes, desc } = blob(5 * MiB + 3);
    proxy.faults.bodyLimit = 2 * MiB;
    expect(await pushBlob(c, desc, bytesOpener(bytes))).toBe('uploaded');
    const sent = proxy.seen.filter((r) => r.method === 'PATCH' || r.method === 'PUT');
    // the whole blob in one PUT, then in one part: refused; half of it: refused; a quarter: taken
    const part = Math.floor(Math.floor(desc.size / 2) / 2);
    const parts: string[] = [];
    for (let at = 0; at < desc.size; at += part) parts.push(`PATCH ${at}-${Math.min(desc.size, at + part) - 1}`);
    expect(sent.map((r) => `${r.method} ${r.contentRange ?? ''}`)).toEqual(['PUT ', `PATCH 0-${desc.size - 1}`, `PATCH 0-${Math.floor(desc.size / 2) - 1}`, ...parts, 'PUT ']);
    expect((await readBack(c, desc)).equals(bytes)).toBe(true);
    c.close();
  });

  it('refuses a part upload whose bytes do not match the digest: the registry checks the PUT ?digest=', async () => {
    const c = await client();
    const { bytes, desc } = blob(250 * KiB);
    const other = Buffer.from(bytes);
    other[1000] = other[1000]! ^ 1;
    await expect(pushBlob(c, desc, bytesOpener(other), undefined, { chunkedOver: 0, partSize: 100 * KiB })).rejects.toMatchObject({ code: 'REGISTRY_ERROR', details: { registryCode: 'DIGEST_INVALID' } });
    expect(await hasBlob(c, desc.digest)).toBe(false);
    c.close();
  });

  it('never completes the upload of a blob that does not match, checked as it is read (one PUT, and parts after a 413)', async () => {
    const MiB = 1024 * KiB;
    for (const bodyLimit of [undefined, 1 * MiB]) {
      const c = await client();
      const { bytes, desc } = blob(3 * MiB + 11);
      const altered = Buffer.from(bytes);
      altered[desc.size - 5] = altered[desc.size - 5]! ^ 1;
      const check = new UploadCheck(desc, 'blob');
      const open: BlobOpener = (s, e) => bytesOpener(altered)(s, e).pipe(check.tap(s, e));
      if (bodyLimit !== undefined) proxy.faults.bodyLimit = bodyLimit;
      await expect(pushBlob(c, desc, open)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      // the registry never got the last bytes: no PUT ?digest= completed, nothing stored
      expect(await hasBlob(c, desc.digest)).toBe(false);
      c.close();
    }
  });
});

/**
 * sourceChunkVerified over a real registry (docker-registry behind the fault proxy): each chunk
 * of a layer is read by the raw GET straight into its buffer and checked against the signed
 * chunk index before it is passed on; a registry that alters, lengthens or drops a blob is caught.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { missingAsBlobMissing } from '../../../src/media/registry-media.js';
import { sourceChunkVerified } from '../../../src/oci/chunk-reader.js';
import { sha256Digest } from '../../../src/oci/digest.js';
import { RegistryBlobSource } from '../../../src/oci/registry/blob-fetch.js';
import { RegistryClient } from '../../../src/oci/registry/client.js';
import { parseRegistryRef } from '../../../src/oci/registry/reference.js';
import { bytesOpener, pushBlob } from '../../../src/oci/registry/upload.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { type FaultProxy, startFaultProxy } from '../../helpers/registry-proxy.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';

const CHUNK = 64 * 1024;
const blob = randomBytes(5 * CHUNK + 5);
const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = Array.from({ length: 6 }, (_, i) => hex(blob.subarray(i * CHUNK, (i + 1) * CHUNK)));
const desc: Descriptor = { mediaType: 'application/octet-stream', digest: sha256Digest(blob), size: blob.length };
let reg: TestRegistry;
let proxy: FaultProxy;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  client = await RegistryClient.open(parseRegistryRef(`${proxy.host}/chunks:1`), { tlsVerify: false });
  await pushBlob(client, desc, bytesOpener(blob));
}, 60_000);

afterAll(async () => {
  client?.close();
  await proxy?.close();
  await reg?.stop();
});

beforeEach(() => {
  for (const k of Object.keys(proxy.faults)) delete proxy.faults[k as keyof typeof proxy.faults];
});

async function run(list = chunks): Promise<{ out: Buffer; err?: unknown }> {
  const out: Buffer[] = [];
  const s: Readable = sourceChunkVerified(() => new RegistryBlobSource(client, desc, 'layer 1'), desc, list, CHUNK, 'layer 1');
  try {
    for await (const c of s) out.push(c as Buffer);
    return { out: Buffer.concat(out) };
  } catch (err) {
    return { out: Buffer.concat(out), err };
  }
}

describe('sourceChunkVerified (a registry blob, raw GET into the chunk buffers)', () => {
  it('passes the whole blob on when every chunk matches, also across a dropped connection (Range resume)', async () => {
    expect((await run()).out.equals(blob)).toBe(true);
    proxy.faults.dropBlob = { digest: desc.digest, after: 2 * CHUNK + 100, times: 1 };
    const r = await run();
    expect(r.err).toBeUndefined();
    expect(r.out.equals(blob)).toBe(true);
  });

  it('refuses altered bytes at the first chunk: nothing of it is passed on', async () => {
    proxy.faults.corruptBlob = desc.digest;
    const r = await run();
    expect(r.err).toMatchObject({ code: 'DIGEST_MISMATCH', details: { chunk: 0 } });
    expect(r.out.length).toBe(0);
  });

  it('stops at the first chunk that differs from the signed index, passing on only the chunks before it', async () => {
    const list = [...chunks];
    list[2] = '0'.repeat(64);
    const r = await run(list);
    expect(r.err).toMatchObject({ code: 'DIGEST_MISMATCH', details: { chunk: 2 } });
    expect(r.out.equals(blob.subarray(0, 2 * CHUNK))).toBe(true);
  });

  it('refuses a registry that sends more than the descriptor says (SIZE_MISMATCH)', async () => {
    proxy.faults.extendBlob = desc.digest;
    expect((await run()).err).toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('reports a blob the registry does not have as BLOB_MISSING on device media, as from a stick', async () => {
    const gone = { ...desc, digest: sha256Digest(Buffer.from('not in the registry')) };
    const s = sourceChunkVerified(() => missingAsBlobMissing(new RegistryBlobSource(client, gone, 'layer 1'), gone, 'layer 1'), gone, chunks, CHUNK, 'layer 1');
    await expect((async () => {
      for await (const _ of s);
    })()).rejects.toMatchObject({ code: 'BLOB_MISSING' });
  });
});

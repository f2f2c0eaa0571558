/**
 * The export's fast download path against a real registry (docker-registry on 127.0.0.1):
 * the raw GET reads a blob's body straight into 4 MiB buffers (whole, and from an offset
 * with a Range request), the copy of a multi-chunk blob gets the same digest and chunk
 * digests as the bytes pushed, and an answer the raw reader does not take (chunked
 * transfer encoding, from a proxy) goes through the http client with the same result.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkDigester } from '../../../src/oci/chunk-hasher-parallel.js';
import { sha256Digest } from '../../../src/oci/digest.js';
import { copyVerified } from '../../../src/oci/range-copy.js';
import { type FetchCounter, RegistryBlobSource } from '../../../src/oci/registry/blob-fetch.js';
import { RegistryClient } from '../../../src/oci/registry/client.js';
import { RawResponse } from '../../../src/oci/registry/raw-get.js';
import { parseRegistryRef } from '../../../src/oci/registry/reference.js';
import { bytesOpener, pushBlob } from '../../../src/oci/registry/upload.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';

const MiB = 1024 * 1024;
let reg: TestRegistry;
let tmp: string;
let bytes: Buffer;
let desc: Descriptor;
let chunked: http.Server;
let chunkedHost: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-blob-fetch-'));
  reg = await startRegistry();
  // 9 MiB and a bit: two whole 4 MiB chunks and a short one
  bytes = randomBytes(9 * MiB + 12345);
  desc = { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size: bytes.length };
  const client = await RegistryClient.open(parseRegistryRef(`${reg.host}/blobs:1`), reg.clientOptions);
  await pushBlob(client, desc, bytesOpener(bytes));
  client.close();
  // a proxy that answers every blob with chunked transfer encoding (no Content-Length)
  chunked = http.createServer((req, res) => {
    http.get(`http://${reg.host}${req.url}`, { headers: { ...req.headers, host: reg.host } }, (up) => {
      const headers = { ...up.headers };
      delete headers['content-length'];
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
  });
  await new Promise<void>((r) => chunked.listen(0, '127.0.0.1', r));
  chunkedHost = `127.0.0.1:${(chunked.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  chunked?.closeAllConnections();
  await new Promise((r) => chunked?.close(r));
  await reg?.stop();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const options = { rejectUnauthorized: false, timeoutMs: 10_000 };

async function readAll(r: RawResponse, size: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  let at = 0;
  for (;;) {
    const n = await r.fill(out.subarray(at, Math.min(size, at + 4 * MiB)));
    if (n === 0) break;
    at += n;
  }
  r.close();
  return out.subarray(0, at);
}

function chunkHexes(b: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 4 * MiB) out.push(createHash('sha256').update(b.subarray(i, i + 4 * MiB)).digest('hex'));
  return out;
}

async function copyThrough(host: string, n: number): Promise<{ chunks: string[]; counter: FetchCounter }> {
  const client = await RegistryClient.open(parseRegistryRef(`${host}/blobs:1`), { tlsVerify: false });
  const counter: FetchCounter = { bytes: 0 };
  const dest = path.join(tmp, `copy-${n}`);
  const digester = new ChunkDigester(4 * MiB, 6);
  try {
    await copyVerified(new RegistryBlobSource(client, desc, 'blob', counter), dest, desc, 'blob', digester);
  } finally {
    client.close();
  }
  expect((await fsp.readFile(dest)).equals(bytes)).toBe(true);
  return { chunks: await digester.finish(), counter };
}

describe('the raw blob download', () => {
  it('reads the body straight into the caller\'s buffers, whole or from an offset (Range)', async () => {
    const url = new URL(`http://${reg.host}/v2/blobs/blobs/${desc.digest}`);
    const whole = await RawResponse.get(url, {}, options);
    expect(whole.status).toBe(200);
    expect(whole.length).toBe(bytes.length);
    expect((await readAll(whole, bytes.length)).equals(bytes)).toBe(true);
    const from = 5 * MiB + 7;
    const part = await RawResponse.get(url, { range: `bytes=${from}-` }, options);
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toMatch(new RegExp(`^bytes ${from}-`));
    expect((await readAll(part, bytes.length - from)).equals(bytes.subarray(from))).toBe(true);
  });

  it('reports the registry\'s status and headers when the answer is not the blob', async () => {
    const r = await RawResponse.get(new URL(`http://${reg.host}/v2/blobs/blobs/sha256:${'0'.repeat(64)}`), {}, options);
    expect(r.status).toBe(404);
    r.close();
  });

  it('copies a multi-chunk blob with its digest and chunk digests checked, counting the bytes fetched', async () => {
    const { chunks, counter } = await copyThrough(reg.host, 1);
    expect(chunks).toEqual(chunkHexes(bytes));
    expect(counter.bytes).toBe(bytes.length);
  });

  it('falls back to the http client for a chunked answer, with the same bytes', async () => {
    const { chunks, counter } = await copyThrough(chunkedHost, 2);
    expect(chunks).toEqual(chunkHexes(bytes));
    expect(counter.bytes).toBe(bytes.length);
  });
});

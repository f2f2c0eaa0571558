/**
 * The push side of the distribution API: a blob the registry has is skipped (HEAD), one
 * another repository of the same push holds is mounted (cross-repository mount), any other
 * is uploaded, streamed from the stick: in one request (POST, then PUT ?digest= with its
 * length), or in parts (PATCH with Content-Range, each to the Location the last answer
 * gave, then PUT ?digest=) when it is large or the registry refuses the whole body (413)
 * or asks for parts (OCI-Chunk-Min-Length). Manifests are PUT by tag or digest. The
 * registry checks every digest we send.
 */
import { Readable } from 'node:stream';
import { FerryError, isFerryError } from '../../errors.js';
import { sha256Digest } from '../digest.js';
import type { Descriptor } from '../types.js';
import { type RegistryClient, readCapped } from './client.js';
import type { BodyPump } from './http.js';

/** What happened to one blob. */
export type BlobPush = 'present' | 'mounted' | 'uploaded';

/** A blob's bytes, whole or a part of them (`end` inclusive). */
export type BlobOpener = (start?: number, end?: number) => Readable;

/** How blobs are uploaded. */
export interface UploadOptions {
  /** Blobs larger than this go in parts (default 1 GiB: a part per request keeps a long upload's requests bounded). */
  chunkedOver?: number;
  /** Size of one part (default 64 MiB; raised to the registry's OCI-Chunk-Min-Length). */
  partSize?: number;
}

/** The opener of an in-memory blob. */
export function bytesOpener(bytes: Buffer): BlobOpener {
  return (start = 0, end = bytes.length - 1) => Readable.from([bytes.subarray(start, end + 1)]);
}

const CHUNKED_OVER = 1024 * 1024 * 1024;
const PART_SIZE = 64 * 1024 * 1024;
/** The first part size after a refused whole body (halved while refused). */
const FALLBACK_PART = 16 * 1024 * 1024;

/** True when the repository has the blob (HEAD answers 2xx). */
export async function hasBlob(client: RegistryClient, digest: string): Promise<boolean> {
  try {
    (await client.request('HEAD', client.url('blobs', digest), {}, `blob ${digest}`)).resume();
    return true;
  } catch (e) {
    if (isFerryError(e, 'IMAGE_NOT_FOUND')) return false;
    throw e;
  }
}

function uploadUrl(client: RegistryClient, location: string | undefined, what: string): URL {
  if (!location) throw new FerryError('REGISTRY_ERROR', `${what}: the registry started an upload without a Location`);
  return new URL(location, client.url('blobs', 'uploads'));
}

/** Parts are never made smaller than this when a proxy refuses them (413). */
const MIN_PART = 256 * 1024;

/**
 * Upload in parts: PATCH each with its Content-Range to the Location the last answer gave,
 * then PUT ?digest= with no body. A part refused as too large (413, a proxy's body limit:
 * it never reached the registry) is sent again at half the size.
 */
async function uploadInParts(client: RegistryClient, location: URL, desc: Descriptor, open: BlobOpener, partSize: number, what: string): Promise<void> {
  let at = location;
  let size = partSize;
  for (let start = 0; start < desc.size; ) {
    const end = Math.min(desc.size, start + size) - 1;
    const headers = { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}`, 'content-length': String(end - start + 1) };
    let res;
    try {
      res = await client.request('PATCH', at, headers, `${what} (bytes ${start}-${end})`, () => open(start, end));
    } catch (e) {
      if (!tooLarge(e) || end - start + 1 <= MIN_PART) throw e;
      size = Math.max(MIN_PART, Math.floor((end - start + 1) / 2));
      continue;
    }
    res.resume();
    at = uploadUrl(client, res.headers.location, what);
    start = end + 1;
  }
  at.searchParams.set('digest', desc.digest);
  (await client.request('PUT', at, { 'content-length': '0' }, what, Buffer.alloc(0))).resume();
}

function tooLarge(e: unknown): boolean {
  return isFerryError(e) && e.details.status === 413;
}

/**
 * Push one blob: skipped when present, mounted from `mountFrom` when that repository has it,
 * else uploaded: in one request from `whole` when given (else `open()`), in parts from `open`.
 */
export async function pushBlob(client: RegistryClient, desc: Descriptor, open: BlobOpener, mountFrom?: string, opts: UploadOptions = {}, whole?: () => BodyPump): Promise<BlobPush> {
  const what = `blob ${desc.digest}`;
  if (await hasBlob(client, desc.digest)) return 'present';
  const start = new URL(`${client.url('blobs', 'uploads').href}/`);
  if (mountFrom !== undefined && mountFrom !== client.ref.repository) {
    start.searchParams.set('mount', desc.digest);
    start.searchParams.set('from', mountFrom);
  }
  const res = await client.request('POST', start, { 'content-length': '0' }, what, Buffer.alloc(0));
  res.resume();
  if (res.statusCode === 201) return 'mounted';
  const location = uploadUrl(client, res.headers.location, what);
  const minPart = Number(res.headers['oci-chunk-min-length'] ?? 0);
  const partSize = Math.max(opts.partSize ?? PART_SIZE, Number.isSafeInteger(minPart) ? minPart : 0);
  if (desc.size > (opts.chunkedOver ?? CHUNKED_OVER) || minPart > 0) {
    await uploadInParts(client, location, desc, open, partSize, what);
    return 'uploaded';
  }
  const put = new URL(location);
  put.searchParams.set('digest', desc.digest);
  try {
    const done = await client.request('PUT', put, { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) }, what, whole ?? (() => open()));
    done.resume();
  } catch (e) {
    // a proxy or registry that limits the request body: the same bytes in parts, in a new session
    if (!tooLarge(e)) throw e;
    const again = await client.request('POST', new URL(`${client.url('blobs', 'uploads').href}/`), { 'content-length': '0' }, what, Buffer.alloc(0));
    again.resume();
    await uploadInParts(client, uploadUrl(client, again.headers.location, what), desc, open, Math.min(partSize, FALLBACK_PART), what);
  }
  return 'uploaded';
}

/** PUT a manifest under `reference` (a tag or its digest); returns its digest and the OCI-Subject header when the registry sent one. */
export async function putManifest(client: RegistryClient, reference: string, bytes: Buffer, mediaType: string): Promise<{ digest: string; subject?: string }> {
  const digest = sha256Digest(bytes);
  const res = await client.request('PUT', client.url('manifests', reference), { 'content-type': mediaType, 'content-length': String(bytes.length) }, `manifest ${reference}`, bytes);
  res.resume();
  const echoed = res.headers['docker-content-digest'];
  if (typeof echoed === 'string' && echoed !== digest) {
    throw new FerryError('DIGEST_MISMATCH', `manifest ${reference}: the registry stored it as ${echoed}, not ${digest}: it rewrote the manifest`, { details: { expected: digest, actual: echoed } });
  }
  const subject = res.headers['oci-subject'];
  return typeof subject === 'string' ? { digest, subject } : { digest };
}

/** GET a manifest's bytes, or undefined when the registry has none under `reference`. */
export async function getManifestIfAny(client: RegistryClient, reference: string, accept: string, cap: number): Promise<Buffer | undefined> {
  try {
    const res = await client.request('GET', client.url('manifests', reference), { accept }, `manifest ${reference}`);
    return await readCapped(res, cap, `manifest ${reference}`);
  } catch (e) {
    if (isFerryError(e, 'IMAGE_NOT_FOUND')) return undefined;
    throw e;
  }
}

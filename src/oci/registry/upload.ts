/**
 * The push side of the distribution API: a blob the registry has is skipped (HEAD), one
 * another repository of the same push holds is mounted (cross-repository mount), any other
 * is uploaded monolithically, streamed from the stick (POST, then PUT ?digest= with its
 * length); manifests are PUT by tag or digest. The registry checks every digest we send.
 */
import type { Readable } from 'node:stream';
import { FerryError, isFerryError } from '../../errors.js';
import { sha256Digest } from '../digest.js';
import type { Descriptor } from '../types.js';
import { type RegistryClient, readCapped } from './client.js';

/** What happened to one blob. */
export type BlobPush = 'present' | 'mounted' | 'uploaded';

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

/** Push one blob: skipped when present, mounted from `mountFrom` when that repository has it, else uploaded from `open()`. */
export async function pushBlob(client: RegistryClient, desc: Descriptor, open: () => Readable, mountFrom?: string): Promise<BlobPush> {
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
  const put = uploadUrl(client, res.headers.location, what);
  put.searchParams.set('digest', desc.digest);
  const done = await client.request('PUT', put, { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) }, what, open);
  done.resume();
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

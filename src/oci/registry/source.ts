/**
 * The `docker://` input: an image read straight from a registry. The manifest (or the
 * index, then the platform's manifest) and the config are fetched whole under the same caps
 * as from a layout and resolved the same way; the layers stay lazy streams, so a blob the
 * stick already holds is never downloaded (the blob store checks before it opens them).
 */
import { Readable } from 'node:stream';
import { FerryError } from '../../errors.js';
import { parseStrictJson } from '../../util/json.js';
import { sha256Digest } from '../digest.js';
import { pickPlatform, type ResolvedImage } from '../layout.js';
import { DEFAULT_PLATFORM, type SourceImage, type SourceOptions, sourceFromResolved } from '../source.js';
import { Caps, type Descriptor, MediaType, parseImageConfig, parseImageIndex, parseImageManifest } from '../types.js';
import { type FetchCounter, RegistryBlobSource } from './blob-fetch.js';
import { openRegistryBlob } from './blob-stream.js';
import { type FetchedManifest, RegistryClient, readCapped } from './client.js';
import { formatRegistryRef, parseRegistryRef } from './reference.js';

/** Layers downloaded at once. */
export const LAYER_DOWNLOADS = 3;

const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];
const MANIFEST_TYPES: readonly string[] = [MediaType.imageManifest, MediaType.dockerManifest];

/** Fetch a small blob (the config) whole, capped and checked against its descriptor. */
async function smallBlob(client: RegistryClient, desc: Descriptor, cap: number, what: string): Promise<Buffer> {
  if (desc.size > cap) throw new FerryError('FILE_TOO_LARGE', `${what} is ${desc.size} bytes, over the ${cap}-byte cap`);
  const { res } = await client.blob(desc.digest, 0);
  const bytes = await readCapped(res, cap, what);
  if (bytes.length !== desc.size) throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, the registry sent ${bytes.length}`, { details: { expected: desc.size, actual: bytes.length } });
  const actual = sha256Digest(bytes);
  if (actual !== desc.digest) throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got ${actual}): the registry or a proxy altered it`, { details: { expected: desc.digest, actual } });
  return bytes;
}

function descriptorOf(m: FetchedManifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

/** Resolve the reference to one image manifest (through an index, picking the platform) and its config. */
async function resolve(client: RegistryClient, reference: string, opts: SourceOptions): Promise<{ img: ResolvedImage; small: Map<string, Buffer> }> {
  let m = await client.manifest(reference, Math.max(Caps.indexJson, Caps.manifestJson));
  if (INDEX_TYPES.includes(m.mediaType)) {
    const index = parseImageIndex(parseStrictJson(m.bytes, Caps.indexJson, 'image index'), 'image index');
    const pick = pickPlatform(index, opts.platform ?? DEFAULT_PLATFORM);
    m = await client.manifest(pick.digest, Caps.manifestJson);
    if (m.bytes.length !== pick.size) throw new FerryError('SIZE_MISMATCH', `manifest ${pick.digest}: the index says ${pick.size} bytes, the registry sent ${m.bytes.length}`);
  } else if (!MANIFEST_TYPES.includes(m.mediaType)) {
    throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `unsupported manifest media type "${m.mediaType}" (ferry reads OCI and Docker v2 images)`, { details: { mediaType: m.mediaType } });
  }
  if (m.bytes.length > Caps.manifestJson) throw new FerryError('FILE_TOO_LARGE', `image manifest is over the ${Caps.manifestJson}-byte cap`);
  const manifest = parseImageManifest(parseStrictJson(m.bytes, Caps.manifestJson, 'image manifest'));
  const cfgBytes = await smallBlob(client, manifest.config, Caps.configJson, 'image config');
  const config = parseImageConfig(parseStrictJson(cfgBytes, Caps.configJson, 'image config'));
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new FerryError('INVALID_MANIFEST', `image config lists ${config.rootfs.diff_ids.length} diff_ids but the manifest has ${manifest.layers.length} layers`);
  }
  const small = new Map([
    [m.digest, m.bytes],
    [manifest.config.digest, cfgBytes],
  ]);
  return { img: { ref: reference, manifestDescriptor: descriptorOf(m), manifest, configDescriptor: manifest.config, config }, small };
}

/** Open an image in a registry; `name` is what follows `docker://`. */
export async function openRegistrySource(name: string, opts: SourceOptions, describe: string): Promise<SourceImage> {
  const ref = parseRegistryRef(name);
  const client = await RegistryClient.open(ref, opts.registry ?? {});
  // idle keep-alive sockets are unref'd by Node's agent: they never keep ferry running, nothing to close at exit
  try {
    const counter: FetchCounter = { bytes: 0 };
    const { img, small } = await resolve(client, ref.reference, opts);
    for (const b of small.values()) counter.bytes += b.length;
    const open = (d: Descriptor, what: string): Readable => {
      const bytes = small.get(d.digest);
      return bytes ? Readable.from([bytes]) : openRegistryBlob(client, d, what, undefined, undefined, counter);
    };
    const chunks = (d: Descriptor, what: string) => new RegistryBlobSource(client, d, what, counter);
    // three downloads at once, as skopeo does: one large layer does not hold up the others
    return { ...sourceFromResolved(img, { open, chunks }, opts, describe || formatRegistryRef(ref)), concurrency: LAYER_DOWNLOADS, bytesFetched: () => counter.bytes };
  } catch (e) {
    client.close();
    throw e instanceof FerryError ? e.withContext(formatRegistryRef(ref)) : e;
  }
}

/**
 * A site registry as the device's media (`ferry device apply --media docker://HOST/PREFIX/TARGET`):
 * the repository's tags are images, and a signed update is the ferry artifact attached to one
 * (referrers API, else the referrers tag sha256-<hex>, as `ferry push` writes it). The update
 * manifest and signature are served as FERRY/updates/<id>.json(.p7s); the layout's index.json
 * lists each attached image under its update id; blobs stream from the registry (layers through
 * the raw GET straight into the chunk buffers of the verified read: chunk-reader.ts). Nothing here is
 * trusted: the device verifies it exactly as a stick (signature, then every byte by digest).
 */
import { PassThrough, Readable } from 'node:stream';
import { FerryError, isFerryError } from '../errors.js';
import { OciLayout, type LayoutBackend } from '../oci/layout.js';
import type { ChunkSource } from '../oci/range-copy.js';
import { RegistryBlobSource } from '../oci/registry/blob-fetch.js';
import { openRegistryBlob } from '../oci/registry/blob-stream.js';
import { RegistryClient, readCapped, type RegistryOptions } from '../oci/registry/client.js';
import { parseRegistryRef } from '../oci/registry/reference.js';
import { FERRY_SIGNATURE_MEDIA, FERRY_UPDATE_ARTIFACT, listReferrers, referrersTag } from '../oci/registry/referrers.js';
import { getManifestIfAny } from '../oci/registry/upload.js';
import { Annotation, Caps, type Descriptor, MediaType } from '../oci/types.js';
import { parseStrictJson } from '../util/json.js';
import type { MediaSource } from './source.js';
import { UPDATE_ID_RE } from './updates.js';

/** Tags of one repository read at most (a site registry holds a few releases per target). */
const MAX_TAGS = 1000;

let options: RegistryOptions = {};

/** How the device reaches registries (its --tls-verify, --cert-dir, --authfile). */
export function setRegistryMediaOptions(o: RegistryOptions): void {
  options = o;
}

export { isRegistryMedia } from './registry-media-name.js';

interface Found {
  files: Map<string, Buffer>;
  manifests: Map<string, Descriptor>;
  index: Descriptor[];
}

async function json(client: RegistryClient, reference: string, cap: number, what: string): Promise<{ bytes: Buffer; value: Record<string, unknown> }> {
  const m = await client.manifest(reference, cap);
  return { bytes: m.bytes, value: parseStrictJson(m.bytes, cap, what) as Record<string, unknown> };
}

async function blobBytes(client: RegistryClient, d: Descriptor, cap: number, what: string): Promise<Buffer> {
  if (d.size > cap) throw new FerryError('FILE_TOO_LARGE', `${what} is ${d.size} bytes, over the ${cap}-byte cap`);
  return readCapped((await client.blob(d.digest, 0)).res, cap, what);
}

/** The ferry artifacts attached to `subject`: the referrers API, else the referrers tag schema. */
async function attached(client: RegistryClient, subject: string): Promise<Descriptor[]> {
  const bytes = (await listReferrers(client, subject, FERRY_UPDATE_ARTIFACT)) ?? (await getManifestIfAny(client, referrersTag(subject), MediaType.imageIndex, Caps.indexJson));
  if (!bytes) return [];
  const index = parseStrictJson(bytes, Caps.indexJson, 'referrers index') as { manifests?: Array<Descriptor & { artifactType?: string }> };
  return (index.manifests ?? []).filter((d) => d.artifactType === FERRY_UPDATE_ARTIFACT).slice(0, 16);
}

/** Walk the repository: every tag's image and the signed updates attached to it. */
async function discover(client: RegistryClient): Promise<Found> {
  const res = await client.request('GET', new URL(`${client.url('manifests', 'x').href.replace(/\/manifests\/x$/, '')}/tags/list?n=${MAX_TAGS}`), { accept: 'application/json' }, 'tag list');
  const tags = ((parseStrictJson(await readCapped(res, 1024 * 1024, 'tag list'), 1024 * 1024, 'tag list') as { tags?: string[] | null }).tags ?? []).filter((t) => !/^sha256-[0-9a-f]{64}$/.test(t));
  const found: Found = { files: new Map(), manifests: new Map(), index: [] };
  for (const tag of tags.slice(0, MAX_TAGS)) {
    const m = await client.manifest(tag, Caps.manifestJson);
    if (m.mediaType !== MediaType.imageManifest) continue;
    const image: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    for (const a of await attached(client, m.digest)) {
      const art = await json(client, a.digest, Caps.manifestJson, 'update artifact');
      const layers = (art.value.layers ?? []) as Array<Descriptor & { annotations?: Record<string, string> }>;
      const upd = layers.find((l) => l.mediaType === FERRY_UPDATE_ARTIFACT);
      const sig = layers.find((l) => l.mediaType === FERRY_SIGNATURE_MEDIA);
      const title = upd?.annotations?.['org.opencontainers.image.title'] ?? '';
      const id = title.endsWith('.json') ? title.slice(0, -5) : '';
      if (!upd || !sig || !UPDATE_ID_RE.test(id) || found.files.has(`updates/${id}.json`)) continue;
      found.files.set(`updates/${id}.json`, await blobBytes(client, upd, Caps.updateManifest, `update ${id}`));
      found.files.set(`updates/${id}.json.p7s`, await blobBytes(client, sig, Caps.signature, `signature of ${id}`));
      found.manifests.set(m.digest, image);
      found.index.push({ ...image, annotations: { [Annotation.refName]: id } });
    }
  }
  return found;
}

/** A layout backend over the registry: oci-layout and index.json made up, manifests and blobs fetched. */
function backend(client: RegistryClient, found: Found): LayoutBackend {
  const sizes = new Map<string, number>();
  const digestOf = (rel: string) => `sha256:${rel.slice('blobs/sha256/'.length)}`;
  const size = async (rel: string): Promise<number | undefined> => {
    if (rel === 'oci-layout' || rel === 'index.json') return (await fixed(rel)).length;
    const digest = digestOf(rel);
    const m = found.manifests.get(digest);
    if (m) return m.size;
    if (sizes.has(digest)) return sizes.get(digest);
    try {
      const res = await client.request('HEAD', client.url('blobs', digest), {}, `blob ${digest}`);
      res.resume();
      const n = Number(res.headers['content-length']);
      sizes.set(digest, n);
      return n;
    } catch (e) {
      if (isFerryError(e, 'IMAGE_NOT_FOUND')) return undefined;
      throw e;
    }
  };
  const fixed = async (rel: string): Promise<Buffer> =>
    rel === 'oci-layout' ? Buffer.from('{"imageLayoutVersion":"1.0.0"}') : Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: found.index }));
  const enoent = (rel: string) => Object.assign(new Error(`${rel} is not in the registry`), { code: 'ENOENT' });
  return {
    async readCapped(rel, cap, what) {
      if (rel === 'oci-layout' || rel === 'index.json') return fixed(rel);
      const digest = digestOf(rel);
      if (found.manifests.has(digest)) return (await client.manifest(digest, cap)).bytes;
      const n = await size(rel);
      if (n === undefined) throw enoent(rel);
      return blobBytes(client, { mediaType: 'application/octet-stream', digest, size: n }, cap, what);
    },
    open(rel) {
      const out = new PassThrough({ highWaterMark: 1024 * 1024 });
      const digest = digestOf(rel);
      const start = async (): Promise<Readable> => {
        const n = await size(rel);
        if (n === undefined) throw enoent(rel);
        if (found.manifests.has(digest)) return Readable.from([(await client.manifest(digest, Caps.manifestJson)).bytes]);
        return openRegistryBlob(client, { mediaType: 'application/octet-stream', digest, size: n }, `blob ${digest}`);
      };
      start().then(
        (src) => {
          src.on('error', (e) => out.destroy(e));
          src.pipe(out);
        },
        (e: unknown) => out.destroy(e as Error),
      );
      return out;
    },
    size,
    range: async () => undefined,
    chunks: (desc, what) => missingAsBlobMissing(new RegistryBlobSource(client, desc, what), desc, what),
  };
}

/** A blob the registry does not have is BLOB_MISSING, as from a stick. */
export function missingAsBlobMissing(src: ChunkSource, desc: Descriptor, what: string): ChunkSource {
  return {
    read: (buf, len) =>
      src.read(buf, len).catch((e: unknown) => {
        if (!isFerryError(e, 'IMAGE_NOT_FOUND')) throw e;
        throw new FerryError('BLOB_MISSING', `${what} is missing from the registry: push the update again from its stick`, { cause: e, details: { digest: desc.digest } });
      }),
    close: () => src.close(),
  };
}

const sources = new Map<string, Promise<MediaSource>>();

/** The media source of a registry repository (discovered once per command). */
export function registryMediaSource(media: string): Promise<MediaSource> {
  let s = sources.get(media);
  if (!s) {
    s = open(media);
    sources.set(media, s);
    s.catch(() => sources.delete(media));
  }
  return s;
}

async function open(media: string): Promise<MediaSource> {
  const name = media.slice('docker://'.length);
  const ref = parseRegistryRef(name.includes(':', name.indexOf('/')) ? name : `${name}:latest`);
  const client = await RegistryClient.open(ref, options);
  // idle keep-alive sockets are unref'd by Node's agent: they never keep ferry running, nothing to close at exit
  const found = await discover(client).catch((e: unknown) => {
    throw isFerryError(e) ? e.withContext(media) : e;
  });
  const be = backend(client, found);
  return {
    kind: 'registry',
    path: media,
    receiptsRoot: undefined,
    describe: () => `registry ${media}`,
    openLayout: () => OciLayout.open(media, be),
    async readFile(rel, cap, what) {
      const b = found.files.get(rel);
      if (b && b.length > cap) throw new FerryError('FILE_TOO_LARGE', `${what} ${rel} is over the ${cap}-byte cap`);
      return b;
    },
    async list(relDir) {
      const prefix = `${relDir}/`;
      return [...found.files.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
    },
  };
}


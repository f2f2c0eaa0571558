/**
 * The signed update travels with its image: the update manifest, its CMS signature and the
 * chunk index go to the registry as one OCI artifact (artifactType
 * application/vnd.ferry.update.v1+json) whose `subject` is the image manifest (image-spec
 * 1.1, manifest.md). A registry without the referrers API (no OCI-Subject header in the PUT's
 * answer, e.g. distribution 2.8) gets the referrers tag schema: an index tagged
 * sha256-<hex of the subject> listing the artifact (distribution-spec, "Referrers Tag Schema").
 */
import { FerryError, isFerryError } from '../../errors.js';
import { parseStrictJson } from '../../util/json.js';
import { sha256Digest } from '../digest.js';
import { Caps, type Descriptor, digestHex, MediaType, parseImageIndex } from '../types.js';
import { type RegistryClient, readCapped } from './client.js';
import { getManifestIfAny, putManifest } from './upload.js';

/** artifactType of a ferry update pushed beside its image. */
export const FERRY_UPDATE_ARTIFACT = 'application/vnd.ferry.update.v1+json';
/** Media type of the update's CMS signature layer. */
export const FERRY_SIGNATURE_MEDIA = 'application/vnd.ferry.update.signature.v1+cms';
/** Media type of the chunk index layer. */
export const FERRY_CHUNKS_MEDIA = 'application/vnd.ferry.chunks.v1+json';
/** The empty config of an artifact (image-spec 1.1). */
export const EMPTY_CONFIG: Descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(Buffer.from('{}')), size: 2 };

/** One layer of the artifact: its media type and bytes. */
export interface ArtifactPart {
  mediaType: string;
  bytes: Buffer;
  title: string;
}

/** The referrers tag of a subject digest: sha256-<hex>. */
export function referrersTag(digest: string): string {
  return `sha256-${digestHex(digest)}`;
}

/** The descriptor of one part's blob. */
function partDescriptor(p: ArtifactPart): Descriptor {
  return { mediaType: p.mediaType, digest: sha256Digest(p.bytes), size: p.bytes.length };
}

/** Build the artifact manifest bytes (pure). */
export function artifactManifest(subject: Descriptor, parts: ArtifactPart[], annotations: Record<string, string>): Buffer {
  const layers = parts.map((p) => ({ ...partDescriptor(p), annotations: { 'org.opencontainers.image.title': p.title } }));
  const m = {
    schemaVersion: 2,
    mediaType: MediaType.imageManifest,
    artifactType: FERRY_UPDATE_ARTIFACT,
    config: EMPTY_CONFIG,
    layers,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  return Buffer.from(JSON.stringify(m));
}

/**
 * The referrers API's answer for `subject` (distribution-spec 1.1, "Listing Referrers":
 * GET /v2/<name>/referrers/<digest>, an image index), filtered to `artifactType`; undefined
 * when the registry has no such API (404, e.g. distribution 2.8).
 */
export async function listReferrers(client: RegistryClient, subject: string, artifactType: string): Promise<Buffer | undefined> {
  const url = new URL(client.url('manifests', 'x').href.replace(/\/manifests\/x$/, `/referrers/${subject}`));
  url.searchParams.set('artifactType', artifactType);
  try {
    return await readCapped(await client.request('GET', url, { accept: MediaType.imageIndex }, `referrers of ${subject}`), Caps.indexJson, 'referrers');
  } catch (e) {
    if (isFerryError(e, 'IMAGE_NOT_FOUND')) return undefined;
    throw e;
  }
}

/** The blobs of the artifact (its empty config, then each part): the caller uploads them, beside the image's, before `pushArtifact`. */
export function artifactBlobs(parts: ArtifactPart[]): { descriptor: Descriptor; bytes: Buffer }[] {
  return [{ descriptor: EMPTY_CONFIG, bytes: Buffer.from('{}') }, ...parts.map((p) => ({ descriptor: partDescriptor(p), bytes: p.bytes }))];
}

/**
 * Name the artifact attached to `subject`, whose blobs (`artifactBlobs`) are in the registry
 * already; returns its descriptor and whether the tag-schema fallback was written. A registry with the referrers API keeps the link itself: it says so
 * with OCI-Subject in the PUT's answer (or, for one that predates that header, answers the
 * API); any other gets the referrers tag.
 */
export async function pushArtifact(client: RegistryClient, subject: Descriptor, parts: ArtifactPart[], annotations: Record<string, string>): Promise<{ descriptor: Descriptor; fallback: boolean }> {
  const bytes = artifactManifest(subject, parts, annotations);
  const put = await putManifest(client, sha256Digest(bytes), bytes, MediaType.imageManifest);
  const descriptor: Descriptor = { mediaType: MediaType.imageManifest, digest: put.digest, size: bytes.length, artifactType: FERRY_UPDATE_ARTIFACT, annotations } as Descriptor;
  if (put.subject !== undefined || (await listReferrers(client, subject.digest, FERRY_UPDATE_ARTIFACT)) !== undefined) return { descriptor, fallback: false };
  await addToReferrersTag(client, subject.digest, descriptor);
  return { descriptor, fallback: true };
}

/** Add `entry` to the referrers index tagged sha256-<hex> (created when absent; an entry with the same digest is not repeated). */
async function addToReferrersTag(client: RegistryClient, subject: string, entry: Descriptor): Promise<void> {
  const tag = referrersTag(subject);
  const old = await getManifestIfAny(client, tag, MediaType.imageIndex, Caps.indexJson);
  let manifests: Descriptor[] = [];
  if (old) {
    const index = parseImageIndex(parseStrictJson(old, Caps.indexJson, `referrers index ${tag}`), `referrers index ${tag}`);
    if (index.manifests.some((d) => d.digest === entry.digest)) return;
    manifests = index.manifests;
  }
  const next = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [...manifests, entry] }));
  if (next.length > Caps.indexJson) throw new FerryError('LIMIT_EXCEEDED', `referrers index ${tag} would be over ${Caps.indexJson} bytes`);
  await putManifest(client, tag, next, MediaType.imageIndex);
}

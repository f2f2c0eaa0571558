/**
 * `ferry push`: seed a site registry from a stick. With trust, every signature is verified
 * first; each blob is verified as it is read for its upload (one read). Each signed update's image goes to
 * REGISTRY[/PREFIX]/<target>:<version> (blobs the registry has are skipped, blobs another
 * repository of this push holds are mounted, the rest streamed from the stick), and the update
 * manifest, its signature and chunk index follow as an artifact whose subject is the image.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { blobRel, OciLayout } from '../oci/layout.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { RegistryClient } from '../oci/registry/client.js';
import { parseRegistryRef } from '../oci/registry/reference.js';
import { type ArtifactPart, artifactBlobs, FERRY_CHUNKS_MEDIA, FERRY_SIGNATURE_MEDIA, FERRY_UPDATE_ARTIFACT, pushArtifact } from '../oci/registry/referrers.js';
import { type BlobOpener, type BlobPush, bytesOpener, pushBlob, putManifest, type UploadOptions } from '../oci/registry/upload.js';
import { UploadCheck } from '../oci/registry/upload-check.js';
import { stickBlobBody, stickError } from './push-body.js';
import { Caps, type Descriptor } from '../oci/types.js';
import { warmChunkHasher } from '../oci/chunk-hasher-parallel.js';
import { validateUpdateManifest } from '../trust/manifest.js';
import type { TrustMaterial, UpdateManifest } from '../trust/types.js';
import { mapBounded } from '../util/bounded.js';
import { streamRegular } from '../util/fsx.js';
import { parseStrictJson } from '../util/json.js';
import { mediaPaths } from './store.js';
import { listMediaUpdates, type MediaUpdateFiles } from './updates.js';
import { verifyMediaUpdates } from './verify-updates.js';

/** What to push where. */
export interface PushRequest {
  mediaRoot: string;
  /** docker://HOST[:PORT][/PREFIX] */
  to: string;
  /** Update ids to push (default: every update on the stick). */
  updates?: string[];
  /** Verify signatures against this trust material before pushing. */
  trust?: TrustMaterial;
  registry?: RegistryOptions;
  /** When uploads go in parts (PATCH) rather than in one PUT. */
  upload?: UploadOptions;
}

/** Blobs uploaded at once (as skopeo does). */
export const BLOB_UPLOADS = 3;
const UPLOAD_READ = 4 * 1024 * 1024;

/** One pushed update. */
export interface PushedUpdate {
  id: string;
  /** docker://HOST/REPO:TAG */
  image: string;
  manifest: Descriptor;
  artifact: Descriptor;
  /** The referrers tag schema was used (the registry has no referrers API). */
  referrersTag: boolean;
  blobs: Record<BlobPush, number>;
  bytesUploaded: number;
}

/** Split docker://HOST[:PORT][/PREFIX] (checked as a registry name). */
export function parsePushTarget(to: string): { host: string; prefix: string } {
  if (!to.startsWith('docker://')) throw new FerryError('USAGE', `--to "${to}" is not a registry: write docker://HOST[:PORT][/PREFIX]`);
  const rest = to.slice('docker://'.length).replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const host = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1);
  // a tag or digest has no place here: the tag is each update's version
  if (/[:@]/.test(prefix)) throw new FerryError('USAGE', `--to "${to}": name a registry and an optional prefix, without tag or digest`);
  parseRegistryRef(`${host}/${prefix ? `${prefix}/` : ''}x:1`);
  return { host, prefix };
}

/** With trust, check every signature before any byte leaves the stick (the blobs are checked as they are read: upload-check.ts). */
async function verifySignatures(req: PushRequest): Promise<void> {
  if (!req.trust) return;
  for (const r of await verifyMediaUpdates(req.mediaRoot, req.trust, { requiredSigners: 1 }, new Date(), { checkBlobs: false })) {
    if (!r.ok) throw new FerryError(r.code ?? 'SIGNATURE_INVALID', `update ${r.id}: ${r.message ?? 'refused'}: nothing was pushed`, { details: r.details ?? {} });
  }
}

/** Read a small verified blob of the stick whole (manifest, chunk index). */
async function smallBlob(layout: OciLayout, d: Descriptor, cap: number, what: string): Promise<Buffer> {
  if (d.size > cap) throw new FerryError('FILE_TOO_LARGE', `${what} is ${d.size} bytes, over the ${cap}-byte cap`);
  const parts: Buffer[] = [];
  for await (const c of layout.openBlob(d, what) as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

async function pushOne(req: PushRequest, target: { host: string; prefix: string }, layout: OciLayout, u: MediaUpdateFiles, mounts: Map<string, string>): Promise<PushedUpdate> {
  const m: UpdateManifest = validateUpdateManifest(parseStrictJson(u.manifestBytes!, Caps.updateManifest, `update ${u.id}`));
  const repo = `${target.prefix ? `${target.prefix}/` : ''}${m.target.name}`;
  const ref = parseRegistryRef(`${target.host}/${repo}:${m.target.version}`);
  const client = await RegistryClient.open(ref, req.registry ?? {});
  try {
    const img = await layout.resolveImage(m.image.manifest);
    const oci = mediaPaths(req.mediaRoot).oci;
    const blobs: Record<BlobPush, number> = { present: 0, mounted: 0, uploaded: 0 };
    let bytesUploaded = 0;
    // One read per blob: its bytes are hashed as they go out and its last bytes are sent only
    // once it matches its digest (push-body.ts in one request, upload-check.ts in parts), so an
    // altered blob never completes an upload; the registry checks PUT ?digest= as well. A blob
    // the registry already has is not read at all. Three blobs at once, read 4 MiB at a time.
    const open = (d: Descriptor): BlobOpener => {
      const what = `blob ${d.digest}`;
      const check = new UploadCheck(d, what);
      return (start, end) => {
        // without `end` the whole file is read, so a file longer than its descriptor is SIZE_MISMATCH
        const src = streamRegular(path.join(oci, blobRel(d.digest)), what, { under: oci, highWaterMark: UPLOAD_READ, ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) });
        const tap = check.tap(start, end);
        src.on('error', (e) => tap.destroy(stickError(e, d, what)));
        return src.pipe(tap);
      };
    };
    const manifestBytes = await smallBlob(layout, m.image.manifest, Caps.manifestJson, 'image manifest');
    const parts: ArtifactPart[] = [
      { mediaType: FERRY_UPDATE_ARTIFACT, bytes: u.manifestBytes!, title: `${u.id}.json` },
      { mediaType: FERRY_SIGNATURE_MEDIA, bytes: u.signatureBytes!, title: `${u.id}.json.p7s` },
    ];
    if (m.image.chunkIndex) parts.push({ mediaType: FERRY_CHUNKS_MEDIA, bytes: await smallBlob(layout, m.image.chunkIndex, Caps.manifestJson * 16, 'chunk index'), title: 'chunks.json' });
    // Largest first: the upload of the largest layer (the registry takes it in on one stream and
    // fsyncs it at the end) is the push's critical path, so it starts at once and the smaller
    // blobs, the artifact's among them, go up beside it instead of after it (bench: the
    // artifact's four blobs, one after another, were ~0.4 s after the last layer at load 10).
    // Nothing is named before every blob is in: the manifests go last.
    const jobs: Array<{ d: Descriptor; bytes?: Buffer }> = [...[img.configDescriptor, ...img.manifest.layers].map((d) => ({ d })), ...artifactBlobs(parts).map((b) => ({ d: b.descriptor, bytes: b.bytes }))];
    jobs.sort((a, b) => b.d.size - a.d.size);
    await mapBounded(jobs, BLOB_UPLOADS, async ({ d, bytes }) => {
      if (bytes) return void (await pushBlob(client, d, bytesOpener(bytes)));
      const r = await pushBlob(client, d, open(d), mounts.get(d.digest), req.upload, stickBlobBody(path.join(oci, blobRel(d.digest)), oci, d, `blob ${d.digest}`));
      blobs[r]++;
      if (r === 'uploaded') bytesUploaded += d.size;
      if (!mounts.has(d.digest)) mounts.set(d.digest, repo);
    });
    await putManifest(client, m.target.version, manifestBytes, m.image.manifest.mediaType);
    const art = await pushArtifact(client, m.image.manifest, parts, { 'io.ferry.update.id': u.id, 'org.opencontainers.image.version': m.target.version });
    return { id: u.id, image: `docker://${ref.host}/${repo}:${m.target.version}`, manifest: m.image.manifest, artifact: art.descriptor, referrersTag: art.fallback, blobs, bytesUploaded };
  } finally {
    client.close();
  }
}

/** Push the signed updates of a stick (and their images) to a registry. Verifies the stick first. */
export async function pushMedia(req: PushRequest): Promise<PushedUpdate[]> {
  const target = parsePushTarget(req.to);
  warmChunkHasher(); // the blobs' digests are hashed on that thread: it starts while the stick is listed and checked
  await fsp.access(mediaPaths(req.mediaRoot).oci).catch((e: unknown) => {
    throw new FerryError('MEDIA_NOT_FOUND', `${req.mediaRoot} holds no FERRY/oci: give the folder where the stick is mounted`, { cause: e });
  });
  const all = (await listMediaUpdates(req.mediaRoot)).updates;
  const wanted = req.updates?.length ? req.updates : all.map((u) => u.id);
  const chosen = wanted.map((id) => {
    const u = all.find((x) => x.id === id);
    if (!u) throw new FerryError('IMAGE_NOT_FOUND', `the stick has no update ${id} (it has: ${all.map((x) => x.id).join(', ') || 'none'})`);
    if (u.problem) throw u.problem;
    return u;
  });
  if (chosen.length === 0) throw new FerryError('NO_APPLICABLE_UPDATE', `${req.mediaRoot} holds no signed update to push: export with --signer first`);
  await verifySignatures(req);
  const layout = await OciLayout.open(mediaPaths(req.mediaRoot).oci);
  const mounts = new Map<string, string>();
  const out: PushedUpdate[] = [];
  for (const u of chosen) out.push(await pushOne(req, target, layout, u, mounts));
  return out;
}

/**
 * `ferry archive` / `ferry unarchive`: the single-file transfer form of FERRY/.
 *
 * Form chosen (checked against skopeo 1.9): skopeo's `oci-archive:` transport unpacks
 * the tar and expects the OCI layout at the tar ROOT (a tar with the layout under
 * `oci/` or `FERRY/oci/` fails with "open …/index.json: no such file"). So the archive
 * holds the layout at its root (oci-layout, index.json, blobs/sha256/…) and FERRY's
 * other folders beside it as `updates/…` and `trust/…`; `skopeo inspect
 * oci-archive:<file>:<ref>` reads it, and so does ferry's `oci-archive:` input.
 * Reading it back indexes the tar in place (no unpack to temp space), copies each
 * blob through a digest check into the store, then writes index.json, then updates.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { type ArchiveMember, layoutMembers, writeTarAtomic } from '../oci/archive-writer.js';
import { openOciArchive, sideFoldersBase, tarBackend } from '../oci/oci-archive.js';
import { Annotation, Caps, type Descriptor, MediaType, parseImageIndex, parseImageManifest } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { removeSignedUpdate } from './export.js';
import { type MediaLock, withMediaLock } from './lock.js';
import { checkStoreCapacity, mediaPaths, openMediaStore } from './store.js';

/** Folders of FERRY/ carried beside the layout, and a cap on each file in them. */
const SIDE_DIRS = ['updates', 'trust'] as const;
const SIDE_FILE_CAP = 1024 * 1024;
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function sideMembers(dir: string, prefix: string, depth = 0): Promise<ArchiveMember[]> {
  const out: ArchiveMember[] = [{ name: prefix, type: 'directory' }];
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).sort();
  } catch {
    return depth === 0 ? out : [];
  }
  for (const n of names) {
    if (!SAFE_SEGMENT.test(n)) continue; // temp files, AppleDouble files: not carried
    const p = path.join(dir, n);
    const st = await fsp.lstat(p);
    if (st.isDirectory() && depth < 3) out.push(...(await sideMembers(p, `${prefix}/${n}`, depth + 1)));
    else if (st.isFile()) out.push({ name: `${prefix}/${n}`, type: 'file', source: p });
  }
  return out;
}

/** Write FERRY/ of `mediaRoot` as one tar at `outFile` (atomic). Blobs are digest-checked while copied. */
export async function archiveMedia(req: { mediaRoot: string; outFile: string; progress?: ProgressFn }): Promise<{ bytes: number; blobs: number }> {
  const paths = mediaPaths(req.mediaRoot);
  try {
    await fsp.access(path.join(paths.oci, 'index.json'));
  } catch (e) {
    throw new FerryError('MEDIA_NOT_FOUND', `${req.mediaRoot} holds no FERRY/oci/index.json: nothing to archive (export an image first)`, { cause: e });
  }
  const members = await layoutMembers(paths.oci);
  for (const d of SIDE_DIRS) members.push(...(await sideMembers(path.join(paths.ferry, d), d)));
  let total = 0;
  for (const m of members) if (m.source) total += (await fsp.stat(m.source)).size;
  const bytes = await writeTarAtomic(req.outFile, members, req.progress, total);
  return { bytes, blobs: members.filter((m) => m.digest).length };
}

/** Every blob an index needs: manifests, configs and layers (nested indexes followed). */
async function neededBlobs(layout: Awaited<ReturnType<typeof openOciArchive>>['layout'], manifests: Descriptor[]): Promise<Descriptor[]> {
  const out = new Map<string, Descriptor>();
  const visit = async (d: Descriptor): Promise<void> => {
    if (out.has(d.digest)) return;
    out.set(d.digest, d);
    if (d.mediaType === MediaType.imageIndex) {
      for (const c of parseImageIndex(await layout.readJsonBlob(d, Caps.indexJson)).manifests) await visit(c);
      return;
    }
    const m = parseImageManifest(await layout.readJsonBlob(d, Caps.manifestJson));
    out.set(m.config.digest, m.config);
    for (const l of m.layers) out.set(l.digest, l);
  };
  for (const d of manifests) await visit(d);
  return [...out.values()];
}

/** Refs the archive brings that the media already holds as a different image (VERSION_EXISTS unless replaced). */
function conflictingRefs(current: Descriptor[], incoming: Descriptor[]): Array<{ ref: string; existing: string; incoming: string }> {
  const byRef = new Map(current.map((d) => [d.annotations?.[Annotation.refName], d]));
  const out: Array<{ ref: string; existing: string; incoming: string }> = [];
  for (const d of incoming) {
    const ref = d.annotations?.[Annotation.refName];
    const have = ref === undefined ? undefined : byRef.get(ref);
    if (ref !== undefined && have && have.digest !== d.digest) out.push({ ref, existing: have.digest, incoming: d.digest });
  }
  return out;
}

/** Request of unarchiveMedia. */
export interface UnarchiveRequest {
  inFile: string;
  mediaRoot: string;
  progress?: ProgressFn;
  /** Replace images the media holds under the same ref with different content (and their signed update manifests). */
  replace?: boolean;
  /** The stick's lock when the caller holds it; otherwise taken here. */
  lock?: MediaLock;
}

/** What unarchive did. */
export interface UnarchiveResult {
  images: number;
  blobsWritten: number;
  blobsSkipped: number;
  files: number;
  /** Update files kept because the media already holds the same update manifest (its signatures stay). */
  kept: string[];
  replaced: string[];
}

/** Read an archive made by `archiveMedia` (or any oci-archive) into the media at `mediaRoot`. */
export async function unarchiveMedia(req: UnarchiveRequest): Promise<UnarchiveResult> {
  if (req.lock) return unarchiveLocked(req, req.lock);
  return withMediaLock(req.mediaRoot, `unarchive ${path.basename(req.inFile)}`, {}, (lock) => unarchiveLocked(req, lock));
}

async function unarchiveLocked(req: UnarchiveRequest, lock: MediaLock): Promise<UnarchiveResult> {
  const { layout, index, prefix } = await openOciArchive(req.inFile);
  const manifests = (await layout.readIndex()).manifests;
  const blobs = await neededBlobs(layout, manifests);
  const store = await openMediaStore(req.mediaRoot);
  const conflicts = conflictingRefs((await store.layout.readIndex()).manifests, manifests);
  if (conflicts.length && !req.replace) {
    const c = conflicts[0]!;
    throw new FerryError('VERSION_EXISTS', `${c.ref} is already on the media as ${c.existing}, a different image than the archive's ${c.incoming}${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ''}: pass --replace to replace them and their signed update manifests`, { details: { conflicts } });
  }
  const missing: Descriptor[] = [];
  for (const b of blobs) if ((await store.layout.existingSize(b.digest)) !== b.size) missing.push(b);
  await checkStoreCapacity(store, missing.map((b) => ({ what: `blob ${b.digest}`, size: b.size })));
  store.layout.onWrite = (file) => lock.wrote(file);
  let written = 0;
  // bytes in the byte fields, the blob's number in item/items; the last event reaches the total
  const total = blobs.reduce((n, b) => n + b.size, 0);
  let done = 0;
  for (const [i, b] of blobs.entries()) {
    req.progress?.({ step: 'unarchive', bytesDone: done, bytesTotal: total, item: i + 1, items: blobs.length, detail: b.digest });
    const w = await store.layout.writeBlob(b, () => layout.openBlob(b));
    if (w.written) written++;
    done += b.size;
  }
  req.progress?.({ step: 'unarchive', bytesDone: total, bytesTotal: total, items: blobs.length });
  for (const c of conflicts) await removeSignedUpdate(req.mediaRoot, c.ref);
  await store.layout.addToIndex(manifests);
  lock.commit();
  const side = await copySideFiles(index, sideFoldersBase(prefix), store.paths.ferry);
  return { images: manifests.length, blobsWritten: written, blobsSkipped: blobs.length - written, ...side, replaced: conflicts.map((c) => c.ref) };
}

/**
 * updates/ and trust/ from the archive (beside the layout: at the root, or beside oci/
 * inside FERRY/): only safe names, regular files, capped; a signature before its
 * manifest (a crash never leaves a manifest without one); an update manifest the media
 * already holds byte for byte is kept with its signature (co-signatures are not lost).
 */
async function copySideFiles(index: Awaited<ReturnType<typeof openOciArchive>>['index'], base: string, ferry: string): Promise<{ files: number; kept: string[] }> {
  const side = tarBackend(index, '');
  const names: string[][] = [];
  for (const name of [...index.entries.keys()].sort()) {
    if (!name.startsWith(base)) continue;
    const segs = name.slice(base.length).split('/');
    const top = segs[0] as (typeof SIDE_DIRS)[number];
    if (!SIDE_DIRS.includes(top) || segs.length < 2 || !segs.every((s) => SAFE_SEGMENT.test(s)) || index.entries.get(name)!.type !== 'file') continue;
    names.push(segs);
  }
  // `<id>.json.p7s` before `<id>.json`
  names.sort((a, b) => Number(b.join('/').endsWith('.p7s')) - Number(a.join('/').endsWith('.p7s')));
  let files = 0;
  const kept: string[] = [];
  const skip = new Set<string>();
  for (const segs of names) {
    const rel = segs.join('/');
    if (segs[0] === 'updates' && rel.endsWith('.json.p7s')) {
      const manifestRel = rel.slice(0, -4);
      const incoming = names.some((n) => n.join('/') === manifestRel) ? await side.readCapped(base + manifestRel, SIDE_FILE_CAP, manifestRel) : undefined;
      const have = await readFileCapped(path.join(ferry, manifestRel), SIDE_FILE_CAP, 'update manifest').catch(() => undefined);
      if (incoming && have && have.equals(incoming) && (await fsp.access(path.join(ferry, rel)).then(() => true, () => false))) {
        skip.add(rel).add(manifestRel);
        kept.push(path.basename(manifestRel, '.json'));
      }
    }
    if (skip.has(rel)) continue;
    const target = path.join(ferry, ...segs);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, await side.readCapped(base + rel, SIDE_FILE_CAP, rel));
    files++;
  }
  return { files, kept };
}

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
import { Caps, type Descriptor, MediaType, parseImageIndex, parseImageManifest } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import { writeFileAtomic } from '../util/fsx.js';
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

/** Read an archive made by `archiveMedia` (or any oci-archive) into the media at `mediaRoot`. */
export async function unarchiveMedia(req: { inFile: string; mediaRoot: string; progress?: ProgressFn }): Promise<{ images: number; blobsWritten: number; blobsSkipped: number; files: number }> {
  const { layout, index, prefix } = await openOciArchive(req.inFile);
  const manifests = (await layout.readIndex()).manifests;
  const blobs = await neededBlobs(layout, manifests);
  const store = await openMediaStore(req.mediaRoot);
  const missing: Descriptor[] = [];
  for (const b of blobs) if ((await store.layout.existingSize(b.digest)) !== b.size) missing.push(b);
  await checkStoreCapacity(store, missing.map((b) => ({ what: `blob ${b.digest}`, size: b.size })));
  let written = 0;
  for (const [i, b] of blobs.entries()) {
    req.progress?.({ step: 'unarchive', bytesDone: i, bytesTotal: blobs.length, detail: b.digest });
    const w = await store.layout.writeBlob(b, () => layout.openBlob(b));
    if (w.written) written++;
  }
  await store.layout.addToIndex(manifests);
  // side files: only safe names, regular files, capped; written after the images they describe
  // updates/ and trust/ sit beside the layout: at the root, or beside oci/ inside FERRY/
  const base = sideFoldersBase(prefix);
  const side = tarBackend(index, '');
  let files = 0;
  for (const name of [...index.entries.keys()].sort()) {
    if (!name.startsWith(base)) continue;
    const segs = name.slice(base.length).split('/');
    const top = segs[0] as (typeof SIDE_DIRS)[number];
    if (!SIDE_DIRS.includes(top) || segs.length < 2 || !segs.every((s) => SAFE_SEGMENT.test(s)) || index.entries.get(name)!.type !== 'file') continue;
    const target = path.join(store.paths.ferry, ...segs);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, await side.readCapped(name, SIDE_FILE_CAP, name));
    files++;
  }
  return { images: manifests.length, blobsWritten: written, blobsSkipped: blobs.length - written, files };
}

/**
 * `ferry inspect --diff A B`: what changes on a device going from update A to update B,
 * file by file, from the file indexes the two signed updates pin (export --file-index).
 * Like the rest of inspect, nothing is checked against a trust root here (`ferry verify
 * --trust` does that); every index blob is digest-checked against its update and capped.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import type { FileEntry, FileIndex } from '../device/files/file-index.js';
import { comparePaths } from '../device/files/file-index.js';
import { openSignedIndex } from '../device/files/index-reader.js';
import { displayPath } from '../device/files/tree-walk.js';
import { FILE_INDEX_BLOB_CAP } from '../oci/file-index-blob.js';
import { Caps } from '../oci/types.js';
import { validateUpdateManifest } from '../trust/manifest.js';
import type { UpdateManifest } from '../trust/types.js';
import { parseStrictJson } from '../util/json.js';
import { openMediaLayout, openMediaSource } from './source.js';
import { listMediaUpdates } from './updates.js';

/** One path in a diff, with its type and size on each side that has it. */
export interface FileDiffEntry {
  path: string;
  from?: { type: string; size: number };
  to?: { type: string; size: number };
  /** For changed entries: what changed (content, type, mode, owner, link, device, xattrs). */
  changes?: string[];
}

/** The whole difference between two updates' file trees. */
export interface FileDiff {
  from: string;
  to: string;
  added: FileDiffEntry[];
  removed: FileDiffEntry[];
  changed: FileDiffEntry[];
  /** Bytes of files added, removed, and of changed files in their new version. */
  bytes: { added: number; removed: number; changed: number };
  unchanged: number;
}

/** What differs between two entries of one path; [] when nothing. */
export function entryChanges(a: FileEntry, b: FileEntry): string[] {
  if (a.type !== b.type) return ['type'];
  const out: string[] = [];
  if (a.sha256 !== b.sha256 || a.size !== b.size) out.push('content');
  if (a.mode !== b.mode && a.type !== 'symlink') out.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) out.push('owner');
  if (a.link !== b.link) out.push('link');
  if (a.rdev !== b.rdev) out.push('device');
  if (a.xattrs !== b.xattrs) out.push('xattrs');
  return out;
}

/** The diff of two indexes (both sorted by path bytes): one merge pass. */
export function diffIndexes(fromId: string, a: FileIndex, toId: string, b: FileIndex): FileDiff {
  const d: FileDiff = { from: fromId, to: toId, added: [], removed: [], changed: [], bytes: { added: 0, removed: 0, changed: 0 }, unchanged: 0 };
  const side = (e: FileEntry) => ({ type: e.type, size: e.size });
  let i = 0;
  let j = 0;
  while (i < a.entries.length || j < b.entries.length) {
    const x = a.entries[i];
    const y = b.entries[j];
    const c = x === undefined ? 1 : y === undefined ? -1 : comparePaths(x.path, y.path);
    if (c < 0) {
      d.removed.push({ path: displayPath(x!.path), from: side(x!) });
      d.bytes.removed += x!.size;
      i++;
    } else if (c > 0) {
      d.added.push({ path: displayPath(y!.path), to: side(y!) });
      d.bytes.added += y!.size;
      j++;
    } else {
      const changes = entryChanges(x!, y!);
      if (changes.length) {
        d.changed.push({ path: displayPath(x!.path), from: side(x!), to: side(y!), changes });
        d.bytes.changed += y!.size;
      } else d.unchanged++;
      i++;
      j++;
    }
  }
  return d;
}

async function signedUpdate(mediaRoot: string, id: string): Promise<UpdateManifest> {
  const { updates } = await listMediaUpdates(await openMediaSource(mediaRoot));
  const f = updates.find((u) => u.id === id);
  if (!f) throw new FerryError('IMAGE_NOT_FOUND', `no update ${id} on the media (found: ${updates.map((u) => u.id).join(', ') || 'none'})`);
  if (f.problem || !f.manifestBytes) throw f.problem ?? new FerryError('MEDIA_INCOMPLETE', `update ${id} cannot be read`);
  return validateUpdateManifest(parseStrictJson(f.manifestBytes, Caps.updateManifest, 'update manifest'), `update manifest ${id}`);
}

/** Read the file index an update pins. */
async function indexOf(mediaRoot: string, id: string): Promise<FileIndex> {
  const u = await signedUpdate(mediaRoot, id);
  const pinned = u.image.fileIndex;
  if (!pinned) throw new FerryError('FILE_INDEX_MISSING', `update ${id} pins no file index: re-export it with ferry export --file-index`);
  if (pinned.size > FILE_INDEX_BLOB_CAP) throw new FerryError('FILE_TOO_LARGE', `the file index of ${id} is over ${FILE_INDEX_BLOB_CAP} bytes`);
  const layout = await openMediaLayout(mediaRoot);
  const entries: FileEntry[] = [];
  const what = `file index of ${id}`;
  // parsed from a copy checked against its digest, never from the stick as it streams
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-index-'));
  let image: string;
  try {
    const index = await openSignedIndex(dir, () => layout.openBlob(pinned, what), what);
    image = await index.image();
    for await (const e of index) entries.push(e);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  if (image !== u.image.manifest.digest) throw new FerryError('CORRUPT_FILE_INDEX', `${what} describes ${image}, not the image ${u.image.manifest.digest} of the update; re-export it`);
  return { image, entries };
}

/** The file-by-file difference between updates `fromId` and `toId` on the media. */
export async function diffUpdates(mediaRoot: string, fromId: string, toId: string): Promise<FileDiff> {
  return diffIndexes(fromId, await indexOf(mediaRoot, fromId), toId, await indexOf(mediaRoot, toId));
}

/**
 * The media store on a stick (DESIGN.md section 1): FERRY/oci (an OCI layout),
 * FERRY/updates, FERRY/trust, FERRY/receipts; plus the up-front capacity check
 * (free space, and the 4 GiB − 1 file size limit of FAT32).
 */
import { mkdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { LayoutWriter } from '../oci/blob-store.js';
import { fatFreeSpace, fuseFatDevice } from './fat-space.js';
import { parseMountinfo } from '../util/mountinfo.js';

/** Paths of the FERRY/ tree under a media root. */
export function mediaPaths(mediaRoot: string) {
  const ferry = path.join(mediaRoot, 'FERRY');
  return {
    ferry,
    oci: path.join(ferry, 'oci'),
    updates: path.join(ferry, 'updates'),
    trust: path.join(ferry, 'trust'),
    receipts: path.join(ferry, 'receipts'),
  };
}

/** statfs f_type of vfat (FAT12/16/32), as in linux/magic.h MSDOS_SUPER_MAGIC. */
export const MSDOS_SUPER_MAGIC = 0x4d44;
/** FAT32 cannot hold a file of 4 GiB or more. */
export const FAT32_MAX_FILE = 4 * 1024 ** 3 - 1;

/**
 * Mount types (/proc/self/mountinfo) of FAT file systems: the kernel's, and FUSE drivers
 * (statfs then says FUSE, not MSDOS_SUPER_MAGIC, e.g. on kernels built without vfat).
 */
export const FAT_MOUNT_TYPES: ReadonlySet<string> = new Set(['vfat', 'msdos', 'fuse.fusefat', 'fuseblk.fusefat']);

/** What the capacity check needs to know about a file system. */
export interface FsCapacity {
  /** statfs f_type. */
  type: number;
  bavail: number;
  bsize: number;
  /** statfs f_blocks: 0 means the file system does not report its size (some FUSE drivers), so free space is unknown. */
  blocks?: number;
  /** The mount's type from /proc/self/mountinfo, when known (e.g. "vfat", "fuse.fusefat"). */
  mountType?: string;
}

/** True when `fs` is FAT (by statfs type or by mount type). */
export function isFat(fs: FsCapacity): boolean {
  return fs.type === MSDOS_SUPER_MAGIC || (fs.mountType !== undefined && FAT_MOUNT_TYPES.has(fs.mountType));
}

/** A blob about to be written, with its exact or estimated size. */
export interface PlannedBlob {
  what: string;
  size: number;
}

/** Refuse a plan up front when a blob exceeds the file system's file size limit or the blobs do not fit (pure). */
export function checkCapacity(fs: FsCapacity, blobs: PlannedBlob[], where: string): void {
  if (isFat(fs)) {
    const big = blobs.find((b) => b.size > FAT32_MAX_FILE);
    if (big) {
      throw new FerryError('FILE_TOO_LARGE_FOR_FILESYSTEM', `${big.what} is ${big.size} bytes but ${where} is FAT32, whose files end at ${FAT32_MAX_FILE} bytes (4 GiB − 1): format the stick as exFAT or ext4`, {
        details: { blob: big.what, size: big.size, limit: FAT32_MAX_FILE },
      });
    }
  }
  if (fs.blocks === 0) return; // size not reported: a write that does not fit fails with NO_SPACE (ENOSPC) and leaves no blob
  const needed = estimateBytes(fs.bsize, blobs);
  const available = fs.bavail * fs.bsize;
  if (needed > available) {
    throw new FerryError('NO_SPACE', `${where} has ${available} bytes free but the export needs about ${needed}: free space or use a bigger stick`, {
      details: { needed, available },
    });
  }
}

/**
 * The space a plan takes on a file system with `bsize`-byte clusters: each file rounded up
 * to whole clusters, plus one cluster per file for its directory entries (FAT's long names
 * take 7 entries of 32 bytes for a 64-hex blob name, and temp names as many again) and
 * metadata, plus a margin of 1% and 8 clusters for what no plan sees (the index temp,
 * the lock, a directory growing by a cluster).
 */
export function estimateBytes(bsize: number, blobs: PlannedBlob[]): number {
  const files = blobs.reduce((n, b) => n + Math.ceil(b.size / bsize) * bsize + bsize, 0);
  return files + Math.ceil((files * 0.01) / bsize) * bsize + 8 * bsize;
}

/** An opened media store: its paths and the OCI layout writer. */
export interface MediaStore {
  root: string;
  paths: ReturnType<typeof mediaPaths>;
  layout: LayoutWriter;
}

/** Create (or reuse) FERRY/ under `mediaRoot`; stale temp files of a killed run are removed. */
export async function openMediaStore(mediaRoot: string): Promise<MediaStore> {
  const paths = mediaPaths(mediaRoot);
  try {
    // synchronous: a Ctrl-C handler (media/lock.ts cancelSync) never races a half-made folder tree
    for (const d of [paths.updates, paths.trust, paths.receipts]) mkdirSync(d, { recursive: true });
    const layout = await LayoutWriter.create(paths.oci);
    return { root: mediaRoot, paths, layout };
  } catch (e) {
    throw toFerryError(e, `media ${mediaRoot}`);
  }
}

/** The mount (point and type) that holds the absolute, resolved path `dir`, from mountinfo text (pure); undefined when none matches. */
export function mountOf(mountinfo: string, dir: string): { point: string; type: string } | undefined {
  let best: { point: string; type: string } | undefined;
  for (const { point: p, type } of parseMountinfo(mountinfo)) {
    if (!type) continue;
    const inside = p === '/' || dir === p || dir.startsWith(p.endsWith('/') ? p : `${p}/`);
    // the last of equal mount points is the one on top
    if (inside && (!best || p.length >= best.point.length)) best = { point: p, type };
  }
  return best;
}

/** The type of the mount that holds the absolute, resolved path `dir` (pure). */
export function mountTypeOf(mountinfo: string, dir: string): string | undefined {
  return mountOf(mountinfo, dir)?.type;
}

/**
 * statfs plus the mount type of `dir` (mountinfo is a small kernel file: Linux only;
 * elsewhere the type stays unknown). A fusefat mount reports no sizes: its free space is
 * then counted in the FAT of the device behind it (fat-space.ts), when that can be read.
 */
export async function fileSystemOf(dir: string): Promise<FsCapacity> {
  const st = await fsp.statfs(dir);
  const fs: FsCapacity = { type: Number(st.type), bavail: Number(st.bavail), bsize: Number(st.bsize), blocks: Number(st.blocks) };
  let mount: { point: string; type: string } | undefined;
  try {
    mount = mountOf(await fsp.readFile('/proc/self/mountinfo', 'utf8'), await fsp.realpath(dir));
    if (mount !== undefined) fs.mountType = mount.type;
  } catch {
    // no /proc: statfs alone decides
  }
  if (fs.blocks === 0 && mount?.type === 'fuse.fusefat') {
    const device = await fuseFatDevice(mount.point).catch(() => undefined);
    const fat = device === undefined ? undefined : await fatFreeSpace(device).catch(() => undefined);
    if (fat) Object.assign(fs, { bavail: fat.freeClusters, bsize: fat.clusterBytes, blocks: fat.clusters });
  }
  return fs;
}

/** Check free space and file size limits where the store lives. */
export async function checkStoreCapacity(store: MediaStore, blobs: PlannedBlob[]): Promise<void> {
  checkCapacity(await fileSystemOf(store.paths.oci), blobs, store.root);
}

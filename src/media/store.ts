/**
 * The media store on a stick (DESIGN.md section 1): FERRY/oci (an OCI layout),
 * FERRY/updates, FERRY/trust, FERRY/receipts; plus the up-front capacity check
 * (free space, and the 4 GiB − 1 file size limit of FAT32).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { LayoutWriter } from '../oci/blob-store.js';

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

/** What the capacity check needs to know about a file system. */
export interface FsCapacity {
  type: number;
  bavail: number;
  bsize: number;
}

/** A blob about to be written, with its exact or estimated size. */
export interface PlannedBlob {
  what: string;
  size: number;
}

/** Refuse a plan up front when a blob exceeds the file system's file size limit or the blobs do not fit (pure). */
export function checkCapacity(fs: FsCapacity, blobs: PlannedBlob[], where: string): void {
  if (fs.type === MSDOS_SUPER_MAGIC) {
    const big = blobs.find((b) => b.size > FAT32_MAX_FILE);
    if (big) {
      throw new FerryError('FILE_TOO_LARGE_FOR_FILESYSTEM', `${big.what} is ${big.size} bytes but ${where} is FAT32, whose files end at ${FAT32_MAX_FILE} bytes (4 GiB − 1): format the stick as exFAT or ext4`, {
        details: { blob: big.what, size: big.size, limit: FAT32_MAX_FILE },
      });
    }
  }
  // per-blob rounding up to whole blocks, plus one block of slack for each file's metadata
  const needed = blobs.reduce((n, b) => n + Math.ceil(b.size / fs.bsize) * fs.bsize + fs.bsize, 0);
  const available = fs.bavail * fs.bsize;
  if (needed > available) {
    throw new FerryError('NO_SPACE', `${where} has ${available} bytes free but the export needs about ${needed}: free space or use a bigger stick`, {
      details: { needed, available },
    });
  }
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
    for (const d of [paths.updates, paths.trust, paths.receipts]) await fsp.mkdir(d, { recursive: true });
    const layout = await LayoutWriter.create(paths.oci);
    return { root: mediaRoot, paths, layout };
  } catch (e) {
    throw toFerryError(e, `media ${mediaRoot}`);
  }
}

/** Check free space and file size limits where the store lives. */
export async function checkStoreCapacity(store: MediaStore, blobs: PlannedBlob[]): Promise<void> {
  const st = await fsp.statfs(store.paths.oci);
  checkCapacity({ type: Number(st.type), bavail: Number(st.bavail), bsize: Number(st.bsize) }, blobs, store.root);
}

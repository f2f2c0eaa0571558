/**
 * The device engine's small interfaces (STYLE.md rule 3): a Slot receives a root
 * filesystem, a Bootloader decides what boots. Backends live one per file under
 * slots/ and bootloaders/, registered in a Record<type, factory>.
 */
import type { Readable } from 'node:stream';
import type { ProgressFn } from '../progress.js';
import type { OciLayout, ResolvedImage } from '../oci/layout.js';
import type { Descriptor } from '../oci/types.js';
import type { FileIndex } from './files/file-index.js';
import type { IndexSource } from './files/index-reader.js';
import type { LayerFeed } from './extract/layer-feed.js';

export type SlotName = 'A' | 'B';
export const SLOT_NAMES: readonly SlotName[] = ['A', 'B'];

/** The other slot. */
export function otherSlot(s: SlotName): SlotName {
  return s === 'A' ? 'B' : 'A';
}

/** good: booted and committed; bad: do not boot; pending: installed, being tried; empty: never written. */
export type SlotStatus = 'good' | 'bad' | 'pending' | 'empty';

/**
 * Opens a layer as a LayerFeed that reports verified compressed bytes to `onRead`; resolves
 * undefined where that path does not apply (the caller then uses openBlob).
 */
export type LayerOpener = (desc: Descriptor, what: string, onRead: (n: number) => void) => Promise<LayerFeed | undefined>;

/** What a slot writes: a verified image in a layout (read once, hashed while streaming). */
export interface SlotWriteRequest {
  layout: OciLayout;
  image: ResolvedImage;
  /** The update id, e.g. kiosk-1.1.0, used by bootc as the ref. */
  ref: string;
  progress: ProgressFn;
  signal?: AbortSignal;
  /**
   * A blob of the image as a stream of verified bytes: every chunk checked against the
   * signed chunk index before it is emitted (legacy media: checked while streaming, after a
   * full pre-verify). The engine (device/apply.ts) always sets it; absent (unit tests of a
   * slot on a plain layout), blobs are digest-checked while they stream (OciLayout.openBlob).
   */
  openBlob?(desc: Descriptor, what: string): Readable;
  /** A layer decompressed beside the main thread from chunk-verified bytes (apply-image.ts layerOpener); absent: openBlob's stream. */
  openLayer?: LayerOpener;
  /** Bounds on what the write may produce; the engine always sets them. */
  limits?: WriteLimits;
  /** Write only what differs from what the slot holds (reuse.ts decided it is safe). */
  reuse?: ReuseWrite;
  /**
   * Called once the image is extracted, before the slot's final sync (dir and block slots):
   * the engine writes the file index meanwhile. Nothing trusts that index until the state
   * record, saved after the write returns, names the image.
   */
  onExtracted?(result: SlotWriteResult): void;
}

/** ReuseWrite.final flags: the path is a directory in the new image. */
export const FINAL_DIR = 1;
/** ReuseWrite.final flags: the path's file, link, device or fifo is identical in the slot (not written again). */
export const FINAL_UNCHANGED = 2;

/**
 * An incremental write: entries left in place, and what is removed before writing. Per path
 * of the new image only its name and two flags are kept; the entries themselves are read
 * again from the signed index when needed (a whole index in memory grew with the image).
 */
export interface ReuseWrite {
  /** The new image's final tree: path (byte string) -> FINAL_DIR | FINAL_UNCHANGED bits. Nothing outside it is written. */
  final: Map<string, number>;
  /** Paths the new image lacks, removed (with their subtrees) before the layer is written. */
  remove: string[];
  /** The new image's signed file index, a checked copy in the state directory (recorded for the slot when layers are skipped); the apply disposes of it. */
  index: IndexSource;
  /** Leading layers identical (same diff_ids) to those of the image in the slot: not read at all. */
  skipLayers: number;
  /** Non-directories of the slot's image (so below real directories only) written anew: unlinked before the first layer. */
  replace: string[];
}

/** Bounds checked while a slot is written (LIMIT_EXCEEDED / NO_SPACE as soon as one is passed). */
export interface WriteLimits {
  /** The signed uncompressed size of all layers (image.unpackedBytes), when the manifest has it. */
  unpackedBytes?: number;
  /** Free bytes the slot's file system must keep. */
  reserveBytes: number;
}

/** The result of writing a slot. */
export interface SlotWriteResult {
  bytesRead: number;
  bytesWritten: number;
  /** e.g. the staged digest for bootc. */
  details?: Record<string, unknown>;
  /** The final tree, recorded while writing (dir and block slots; absent over the entry cap), or the signed index an incremental write that skipped layers stands on. */
  fileIndex?: FileIndex | IndexSource;
}

/** The sizes an update manifest records for its image (trust/types.ts). */
export interface ImageSize {
  /** Compressed config + layers, as stored on the media. */
  payloadBytes: number;
  /** Uncompressed layer total, when export recorded it. */
  unpackedBytes?: number;
}

/** The space a slot needs for an image, and which measure that is. */
export interface SpaceNeed {
  bytes: number;
  measure: 'unpacked' | 'payload';
}

/** The compressed payload: right for a slot that stores the blobs as they are (bootc), and the default. */
export function payloadNeed(image: ImageSize): SpaceNeed {
  return { bytes: image.payloadBytes, measure: 'payload' };
}

/** The unpacked size, for a slot that receives the root filesystem (dir, block); the payload when the manifest lacks it. */
export function unpackedNeed(image: ImageSize): SpaceNeed {
  return image.unpackedBytes !== undefined ? { bytes: image.unpackedBytes, measure: 'unpacked' } : payloadNeed(image);
}

/** A slot backend: dir, block or bootc. */
export interface Slot {
  readonly name: SlotName;
  readonly type: string;
  /** Human description ("dir /var/lib/slots/b", "block /dev/loop3"). */
  describe(): string;
  /** Free bytes available for an image, or undefined when unknown; at least `enough` may be answered without counting further. */
  availableBytes(enough?: number): Promise<number | undefined>;
  /** The space this slot needs for an image, compared with availableBytes(); absent: payloadNeed. */
  requiredBytes?(image: ImageSize): SpaceNeed;
  /** Erase/format and write the image; throws FerryError; leaves nothing mounted. */
  write(req: SlotWriteRequest): Promise<SlotWriteResult>;
  /** The slot's tree for reading (drift): absent for slots that hold no file tree (bootc). */
  openTree?(): Promise<SlotTree>;
  /** Whether write() may keep what the slot holds (incremental write): undefined when yes, else why not. Absent: never. */
  reuseProblem?(): Promise<string | undefined>;
}

/** A slot's root filesystem opened for reading; release() undoes what opening did (a read-only mount). */
export interface SlotTree {
  root: string;
  /** Paths that the slot type itself adds (an ext4's /lost+found), not drift. */
  ignore: string[];
  release(): Promise<void>;
}

/** The bootloader's view of both slots. */
export interface BootState {
  /** Boot order, first tried first. */
  order: SlotName[];
  /** Per slot: marked good by the bootloader, and attempts left. */
  slots: Record<SlotName, { good: boolean; attemptsLeft: number }>;
}

/** True when the bootloader boots `slot` next: first in order, good, tries left (nothing has fallen back). */
export function bootsNext(bs: BootState, slot: SlotName): boolean {
  return bs.order[0] === slot && bs.slots[slot].good && bs.slots[slot].attemptsLeft > 0;
}

/** A bootloader backend: grub, uboot, file, custom. */
export interface Bootloader {
  readonly type: string;
  describe(): string;
  getState(): Promise<BootState>;
  /** Make `slot` the one to try next with `attempts` tries, the other slot as fallback. */
  setPrimary(slot: SlotName, attempts: number): Promise<void>;
  /** Commit `slot`: good, attempts reset, first in order. */
  markGood(slot: SlotName): Promise<void>;
  /** Never boot `slot` again until rewritten: not good, 0 attempts, last in order. */
  markBad(slot: SlotName): Promise<void>;
  /** Remove ferry's temporary files a run that died left beside the environment (under the device lock). */
  removeStaleTemps?(): Promise<void>;
}

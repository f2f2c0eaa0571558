/**
 * Reading the receipts off a stick (`FERRY/receipts/<device-id>/<stamp>-<action>.json`, DESIGN.md
 * §1). The stick is hostile input: folders must be real folders and files regular files (no
 * links, FIFOs or devices: fsx's media checks), every folder has an entry cap, the whole walk a
 * file cap, and every file a size cap. What is not a receipt is listed with its reason, never
 * dropped; temp files a device left mid-write and AppleDouble/hidden files are listed as ignored.
 */
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { listMediaDirSync, readSmallFileSync } from '../../util/read-sync.js';
import { checkReceiptFile, type CheckedReceipt, RECEIPT_CAP } from './schema.js';

/** Device folders a stick may hold. */
export const MAX_DEVICE_FOLDERS = 20_000;
/** Receipts one device folder may hold. */
export const MAX_RECEIPTS_PER_DEVICE = 10_000;
/** Files one stick may hold under FERRY/receipts/ in all. */
export const MAX_RECEIPT_FILES = 200_000;
/**
 * Receipts handed over per batch at most, and their bytes: memory stays bounded whatever the
 * stick holds, and a batch is one durable store commit (fsyncs: 20 commits of 500 were a
 * fifth of collecting 10,000 receipts on a busy disk).
 */
export const RECEIPT_BATCH = 2000;
/** A batch is handed over once its files hold this many bytes (receipts are ~1 KiB; a cap is 512 KiB). */
export const RECEIPT_BATCH_BYTES = 2 * 1024 * 1024;

/** A receipt read off the stick and checked. */
export interface StickReceipt extends CheckedReceipt {
  file: string;
}

/** A file under FERRY/receipts/ that is not a receipt, and why. */
export interface RejectedFile {
  file: string;
  problems: string[];
}

/** What was found under FERRY/receipts/ besides the receipts (handed over in batches). */
export interface StickReceipts {
  /** Valid receipts seen (all batches). */
  receipts: number;
  rejected: RejectedFile[];
  ignored: RejectedFile[];
}

/** The receipts folder of a stick. */
export function stickReceiptsDir(mediaRoot: string): string {
  return path.join(mediaRoot, 'FERRY', 'receipts');
}

type Candidate = { file: string; folder: string; name: string; dir: string };

/** List the candidate files (no reads yet; synchronous, as the reads); links and special files go to `rejected`. */
function listCandidates(mediaRoot: string, out: StickReceipts): Candidate[] {
  const top = stickReceiptsDir(mediaRoot);
  const folders = listMediaDirSync(mediaRoot, top, MAX_DEVICE_FOLDERS) ?? [];
  const files: Candidate[] = [];
  for (const d of folders.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const at = path.join(top, d.name);
    if (d.name.startsWith('.')) out.ignored.push({ file: at, problems: ['hidden entry'] });
    else if (!d.isDirectory()) out.rejected.push({ file: at, problems: [d.isSymbolicLink() ? 'is a symbolic link, not a device folder' : 'is not a device folder'] });
    else {
      // below `top`, checked a moment ago: one lstat per device folder, not one per path component
      for (const f of listMediaDirSync(top, at, MAX_RECEIPTS_PER_DEVICE)!.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const file = path.join(at, f.name);
        if (f.name.startsWith('.ferry-tmp-')) out.ignored.push({ file, problems: ['an unfinished write the device left (power cut or pulled stick)'] });
        else if (f.name.startsWith('.')) out.ignored.push({ file, problems: ['hidden file'] });
        else if (!f.isFile()) out.rejected.push({ file, problems: [f.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file'] });
        else files.push({ file, folder: d.name, name: f.name, dir: at });
        if (files.length > MAX_RECEIPT_FILES) throw new FerryError('LIMIT_EXCEEDED', `${top} holds more than ${MAX_RECEIPT_FILES} files: do not use this stick; report it`, { details: { cap: MAX_RECEIPT_FILES } });
      }
    }
  }
  return files;
}

/** Read and check one candidate into `batch` as `take` makes it (or into `out.rejected`); returns the bytes read. */
function readOne<T>(c: Candidate, out: StickReceipts, take: (r: StickReceipt) => T, batch: T[]): number {
  let bytes: Buffer;
  try {
    // synchronous (util/read-sync.ts); the folders above were checked when they were listed
    bytes = readSmallFileSync(c.file, RECEIPT_CAP, 'receipt', { media: true });
  } catch (e) {
    // a link or special file swapped in after the listing, or a file gone: this file, not the whole stick
    out.rejected.push({ file: c.file, problems: [(e as Error).message] });
    return 0;
  }
  const check = checkReceiptFile(bytes, c.folder, c.name);
  if (check.ok) batch.push(take({ ...check.value, file: c.file }));
  else out.rejected.push({ file: c.file, problems: check.problems });
  return bytes.length;
}

/**
 * Read and check every receipt on the stick at `mediaRoot`, handing them to `onBatch` in file
 * order, at most RECEIPT_BATCH receipts or about RECEIPT_BATCH_BYTES at a time (a stick without
 * receipts has none); returns what else was found. `take` turns each receipt into what the
 * batch holds, right after it is read: a caller that keeps only what it needs lets the parsed
 * receipt die young (surviving garbage made the V8 young generation grow to 128 MiB).
 */
export async function readStickReceipts<T>(mediaRoot: string, take: (r: StickReceipt) => T, onBatch: (batch: T[]) => Promise<void>): Promise<StickReceipts> {
  const out: StickReceipts = { receipts: 0, rejected: [], ignored: [] };
  const files = listCandidates(mediaRoot, out);
  let batch: T[] = [];
  let bytes = 0;
  for (let i = 0; i < files.length; i++) {
    bytes += readOne(files[i]!, out, take, batch);
    if (batch.length < RECEIPT_BATCH && bytes < RECEIPT_BATCH_BYTES && i < files.length - 1) continue;
    out.receipts += batch.length;
    if (batch.length > 0) await onBatch(batch);
    batch = [];
    bytes = 0;
  }
  out.rejected.sort((a, b) => (a.file < b.file ? -1 : 1));
  return out;
}

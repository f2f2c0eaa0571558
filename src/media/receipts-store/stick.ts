/**
 * Reading the receipts off a stick (`FERRY/receipts/<device-id>/<stamp>-<action>.json`, DESIGN.md
 * §1). The stick is hostile input: folders must be real folders and files regular files (no
 * links, FIFOs or devices: fsx's media checks), every folder has an entry cap, the whole walk a
 * file cap, and every file a size cap. What is not a receipt is listed with its reason, never
 * dropped; temp files a device left mid-write and AppleDouble/hidden files are listed as ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { listMediaDir, unsafeMedia } from '../../util/fsx.js';
import { checkReceiptFile, type CheckedReceipt, RECEIPT_CAP } from './schema.js';

/** Device folders a stick may hold. */
export const MAX_DEVICE_FOLDERS = 20_000;
/** Receipts one device folder may hold. */
export const MAX_RECEIPTS_PER_DEVICE = 10_000;
/** Files one stick may hold under FERRY/receipts/ in all. */
export const MAX_RECEIPT_FILES = 200_000;
/** Receipts handed over per batch: memory stays bounded whatever the stick holds. */
export const RECEIPT_BATCH = 500;

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

/** List the candidate files (no reads yet); links and special files go to `rejected`. */
async function listCandidates(mediaRoot: string, out: StickReceipts): Promise<Candidate[]> {
  const top = stickReceiptsDir(mediaRoot);
  const folders = (await listMediaDir(mediaRoot, top, MAX_DEVICE_FOLDERS)) ?? [];
  const files: Candidate[] = [];
  for (const d of folders.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const at = path.join(top, d.name);
    if (d.name.startsWith('.')) out.ignored.push({ file: at, problems: ['hidden entry'] });
    else if (!d.isDirectory()) out.rejected.push({ file: at, problems: [d.isSymbolicLink() ? 'is a symbolic link, not a device folder' : 'is not a device folder'] });
    else {
      for (const f of (await listMediaDir(mediaRoot, at, MAX_RECEIPTS_PER_DEVICE))!.sort((a, b) => (a.name < b.name ? -1 : 1))) {
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

/**
 * Read one receipt file with the checks of fsx's readFileCapped (lstat: a regular file, no
 * link; open O_NONBLOCK|O_NOFOLLOW; fstat: the same file, still regular; at most the cap + 1
 * bytes), but synchronously: receipts are ~1 KiB each, and the thread-pool round trips of
 * async calls cost three times the CPU of the reads themselves (measured: 2.0 s against 0.6 s
 * for 10,000 files). The folders above were checked when they were listed.
 */
function readReceiptFile(file: string): Buffer {
  const before = fs.lstatSync(file);
  if (!before.isFile()) throw unsafeMedia(file, before.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file');
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO') throw unsafeMedia(file, code === 'ELOOP' ? 'is a symbolic link' : 'is a socket or device node');
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.dev !== before.dev || st.ino !== before.ino) throw unsafeMedia(file, 'changed while it was opened');
    if (st.size > RECEIPT_CAP) throw new FerryError('FILE_TOO_LARGE', `receipt ${file} is ${st.size} bytes, over the ${RECEIPT_CAP}-byte cap`);
    const buf = Buffer.alloc(st.size + 1);
    let off = 0;
    for (let n = 1; n > 0 && off < buf.length; off += n) n = fs.readSync(fd, buf, off, buf.length - off, off);
    if (off > RECEIPT_CAP) throw new FerryError('FILE_TOO_LARGE', `receipt ${file} grew over the ${RECEIPT_CAP}-byte cap while being read`);
    return buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

function readOne(c: Candidate, out: StickReceipts, batch: StickReceipt[]): void {
  let bytes: Buffer;
  try {
    bytes = readReceiptFile(c.file);
  } catch (e) {
    // a link or special file swapped in after the listing, or a file gone: this file, not the whole stick
    return void out.rejected.push({ file: c.file, problems: [(e as Error).message] });
  }
  const check = checkReceiptFile(bytes, c.folder, c.name);
  if (check.ok) batch.push({ ...check.value, file: c.file });
  else out.rejected.push({ file: c.file, problems: check.problems });
}

/**
 * Read and check every receipt on the stick at `mediaRoot`, handing them to `onBatch` at most
 * RECEIPT_BATCH at a time in file order (a stick without receipts has none); returns what else
 * was found.
 */
export async function readStickReceipts(mediaRoot: string, onBatch: (batch: StickReceipt[]) => Promise<void>): Promise<StickReceipts> {
  const out: StickReceipts = { receipts: 0, rejected: [], ignored: [] };
  const files = await listCandidates(mediaRoot, out);
  for (let at = 0; at < files.length; at += RECEIPT_BATCH) {
    const slice = files.slice(at, at + RECEIPT_BATCH);
    const batch: StickReceipt[] = [];
    for (const c of slice) readOne(c, out, batch);
    out.receipts += batch.length;
    await onBatch(batch);
  }
  out.rejected.sort((a, b) => (a.file < b.file ? -1 : 1));
  return out;
}

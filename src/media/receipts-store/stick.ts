/**
 * Reading the receipts off a stick (`FERRY/receipts/<device-id>/<stamp>-<action>.json`, DESIGN.md
 * §1). The stick is hostile input: folders must be real folders and files regular files (no
 * links, FIFOs or devices: fsx's media checks), every folder has an entry cap, the whole walk a
 * file cap, and every file a size cap. What is not a receipt is listed with its reason, never
 * dropped; temp files a device left mid-write and AppleDouble/hidden files are listed as ignored.
 */
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { isHostileMedia, listMediaDir, readFileCapped } from '../../util/fsx.js';
import { checkReceiptFile, type CheckedReceipt, RECEIPT_CAP } from './schema.js';

/** Device folders a stick may hold. */
export const MAX_DEVICE_FOLDERS = 20_000;
/** Receipts one device folder may hold. */
export const MAX_RECEIPTS_PER_DEVICE = 10_000;
/** Files one stick may hold under FERRY/receipts/ in all. */
export const MAX_RECEIPT_FILES = 200_000;
/** Files read at once (small files: latency, not bandwidth, sets the pace). */
const READ_CONCURRENCY = 32;

/** A receipt read off the stick and checked. */
export interface StickReceipt extends CheckedReceipt {
  file: string;
}

/** A file under FERRY/receipts/ that is not a receipt, and why. */
export interface RejectedFile {
  file: string;
  problems: string[];
}

/** Everything found under FERRY/receipts/. */
export interface StickReceipts {
  receipts: StickReceipt[];
  rejected: RejectedFile[];
  ignored: RejectedFile[];
}

/** The receipts folder of a stick. */
export function stickReceiptsDir(mediaRoot: string): string {
  return path.join(mediaRoot, 'FERRY', 'receipts');
}

type Candidate = { file: string; folder: string; name: string };

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
      for (const f of (await listMediaDir(mediaRoot, at, MAX_RECEIPTS_PER_DEVICE))!) {
        const file = path.join(at, f.name);
        if (f.name.startsWith('.ferry-tmp-')) out.ignored.push({ file, problems: ['an unfinished write the device left (power cut or pulled stick)'] });
        else if (f.name.startsWith('.')) out.ignored.push({ file, problems: ['hidden file'] });
        else if (!f.isFile()) out.rejected.push({ file, problems: [f.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file'] });
        else files.push({ file, folder: d.name, name: f.name });
        if (files.length > MAX_RECEIPT_FILES) throw new FerryError('LIMIT_EXCEEDED', `${top} holds more than ${MAX_RECEIPT_FILES} files: do not use this stick; report it`, { details: { cap: MAX_RECEIPT_FILES } });
      }
    }
  }
  return files;
}

async function readOne(mediaRoot: string, c: Candidate, out: StickReceipts): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFileCapped(c.file, RECEIPT_CAP, 'receipt', { under: mediaRoot });
  } catch (e) {
    // a link or special file swapped in after the listing: this file, not the whole stick
    if (isHostileMedia(e) || e instanceof FerryError) return void out.rejected.push({ file: c.file, problems: [(e as Error).message] });
    throw e;
  }
  const check = checkReceiptFile(bytes, c.folder, c.name);
  if (check.ok) out.receipts.push({ ...check.value, file: c.file });
  else out.rejected.push({ file: c.file, problems: check.problems });
}

/** Read and check every receipt on the stick at `mediaRoot` (a stick without receipts has none). */
export async function readStickReceipts(mediaRoot: string): Promise<StickReceipts> {
  const out: StickReceipts = { receipts: [], rejected: [], ignored: [] };
  const files = await listCandidates(mediaRoot, out);
  let next = 0;
  const worker = async () => {
    while (next < files.length) await readOne(mediaRoot, files[next++]!, out);
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  out.receipts.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  out.rejected.sort((a, b) => (a.file < b.file ? -1 : 1));
  return out;
}

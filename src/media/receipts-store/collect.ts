/**
 * `ferry receipts collect`: copy every receipt from a stick into the receipts store, and with
 * `clear` remove from the stick exactly the files the store now holds, only after the store's
 * transaction is durably committed (synchronous=FULL). Rejected and ignored files stay.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { toFerryError } from '../../errors.js';
import { fsyncDir } from '../../util/fsx.js';
import { factsOf } from './facts.js';
import { readStickReceipts, type RejectedFile, type StickReceipt, stickReceiptsDir } from './stick.js';
import { SignatureChecker } from './sig-worker.js';
import type { StoredSig } from './verdict.js';
import { type AddOutcome, ReceiptsStore, type StoreEntry } from './store.js';

/** What collect found and did. */
export interface CollectResult {
  media: string;
  store: string;
  site: string;
  found: number;
  added: number;
  duplicates: number;
  /** Same identity as a stored receipt, other bytes: kept aside in the store, never replacing it. */
  conflicts: string[];
  /** Receipts without a signature (made before devices signed them): stored, reported as unsigned. */
  unsigned: number;
  /** Receipts whose signature does not verify: stored (the evidence), never counted by a report. */
  badSignature: string[];
  rejected: RejectedFile[];
  ignored: RejectedFile[];
  /** Files removed from the stick (clear). */
  cleared: number;
  storeTotal: number;
}

/** Remove stored files from the stick, then sync each folder they were in (collected in `dirs`). */
async function clearStored(files: string[], dirs: Set<string>): Promise<void> {
  for (const f of files) {
    await fsp.unlink(f);
    dirs.add(path.dirname(f));
  }
  for (const d of dirs) await fsyncDir(d);
}

/** Empty device folders go too, once everything is cleared. */
async function removeEmptyFolders(mediaRoot: string, dirs: Set<string>): Promise<void> {
  for (const d of dirs) await fsp.rmdir(d).catch(() => undefined);
  if (dirs.size > 0) await fsyncDir(stickReceiptsDir(mediaRoot));
}

/** A receipt on its way into the store: its signature check on the worker thread, or its outcome. */
type Pending = Omit<StoreEntry, 'sig'> & { sig: Promise<StoredSig> };

/**
 * Collect the receipts of one stick into the store file (see the file comment). Each batch of
 * receipts is one committed transaction; with `clear`, a batch's files are removed from the
 * stick right after its commit, so memory stays bounded and nothing is removed unstored.
 * Each signature is checked on a worker thread (sig-worker.ts) soon after its file is read, while
 * the main thread reads on and commits the batch before (at most two batches in memory);
 * `sigWorker: false` checks them on the main thread (the same function; for tests).
 */
export async function collectReceipts(req: { mediaRoot: string; storeFile: string; site?: string; clear?: boolean; now?: Date; sigWorker?: boolean }): Promise<CollectResult> {
  const site = req.site ?? path.basename(path.resolve(req.mediaRoot));
  const store = await ReceiptsStore.open(req.storeFile);
  const collectedAt = (req.now ?? new Date()).toISOString();
  const result: CollectResult = { media: req.mediaRoot, store: req.storeFile, site, found: 0, added: 0, duplicates: 0, conflicts: [], unsigned: 0, badSignature: [], rejected: [], ignored: [], cleared: 0, storeTotal: 0 };
  const dirs = new Set<string>();
  const checker = new SignatureChecker(req.sigWorker ?? true);
  const take = (r: StickReceipt): Pending => ({
    sig: checker.check(r.bytes, r.receipt as unknown as Record<string, unknown>),
    // finished_at normalised to UTC ISO form: --since and the per-device order compare it as text
    deviceId: r.receipt.deviceId, stamp: r.receipt.stamp, action: r.receipt.action, finishedAt: new Date(r.receipt.finishedAt).toISOString(), facts: factsOf(r.receipt), bytes: r.bytes, source: r.file, site,
  });
  const storeBatch = async (batch: Pending[]) => {
    const sigs = await Promise.all(batch.map((p) => p.sig));
    const entries: StoreEntry[] = batch.map((p, i) => ({ ...p, sig: sigs[i]! }));
    tally(result, entries, store.addAll(entries, collectedAt));
    if (!req.clear) return;
    try {
      await clearStored(entries.map((e) => e.source), dirs);
    } catch (e) {
      throw toFerryError(e, `${result.added + result.duplicates + result.conflicts.length} receipt(s) are stored in ${req.storeFile}, but clearing them from the stick failed`);
    }
    result.cleared += entries.length;
  };
  // the batch before: verified, then stored (and cleared); batches are stored in file order
  let previous: Promise<void> = Promise.resolve();
  try {
    const found = await readStickReceipts(req.mediaRoot, take, async (batch) => {
      checker.flush(); // the batch's last receipts go to the worker now: the batch waits for them
      await previous;
      previous = storeBatch(batch);
      // awaited by the next batch or below; until then a failure must not count as unhandled
      previous.catch(() => undefined);
    });
    await previous;
    if (req.clear) await removeEmptyFolders(req.mediaRoot, dirs);
    Object.assign(result, { found: found.receipts, rejected: found.rejected, ignored: found.ignored, storeTotal: store.count() });
    return result;
  } finally {
    await previous.catch(() => undefined);
    await checker.close();
    store.close();
  }
}

/** Count what adding `entries` did into `result`. */
function tally(result: CollectResult, entries: Array<{ sig: StoredSig; source: string }>, outcomes: AddOutcome[]): void {
  entries.forEach((e, i) => {
    if (outcomes[i] === 'added') result.added++;
    else if (outcomes[i] === 'duplicate') result.duplicates++;
    else result.conflicts.push(e.source);
    if (e.sig === 'unsigned') result.unsigned++;
    else if (e.sig.startsWith('bad:')) result.badSignature.push(e.source);
  });
}

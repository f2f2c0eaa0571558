/**
 * `ferry receipts collect`: copy every receipt from a stick into the receipts store, and with
 * `clear` remove from the stick exactly the files the store now holds, only after the store's
 * transaction is durably committed (synchronous=FULL). Rejected and ignored files stay.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { toFerryError } from '../../errors.js';
import { fsyncDir } from '../../util/fsx.js';
import { readStickReceipts, type RejectedFile, stickReceiptsDir } from './stick.js';
import { ReceiptsStore } from './store.js';

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
  rejected: RejectedFile[];
  ignored: RejectedFile[];
  /** Files removed from the stick (clear). */
  cleared: number;
  storeTotal: number;
}

/** Remove the stored files from the stick, then sync each folder; empty device folders go too. */
async function clearStored(mediaRoot: string, files: string[]): Promise<number> {
  const dirs = new Set<string>();
  for (const f of files) {
    await fsp.unlink(f);
    dirs.add(path.dirname(f));
  }
  for (const d of dirs) {
    await fsyncDir(d);
    await fsp.rmdir(d).catch(() => undefined);
  }
  if (dirs.size > 0) await fsyncDir(stickReceiptsDir(mediaRoot));
  return files.length;
}

/** Collect the receipts of one stick into the store file (see the file comment). */
export async function collectReceipts(req: { mediaRoot: string; storeFile: string; site?: string; clear?: boolean; now?: Date }): Promise<CollectResult> {
  const site = req.site ?? path.basename(path.resolve(req.mediaRoot));
  const found = await readStickReceipts(req.mediaRoot);
  const store = await ReceiptsStore.open(req.storeFile);
  try {
    const entries = found.receipts.map((r) => ({
      deviceId: r.receipt.deviceId, stamp: r.receipt.stamp, action: r.receipt.action, finishedAt: r.receipt.finishedAt, bytes: r.bytes, source: r.file, site,
    }));
    const outcomes = store.addAll(entries, (req.now ?? new Date()).toISOString());
    const result: CollectResult = {
      media: req.mediaRoot, store: req.storeFile, site, found: entries.length,
      added: outcomes.filter((o) => o === 'added').length,
      duplicates: outcomes.filter((o) => o === 'duplicate').length,
      conflicts: entries.filter((_, i) => outcomes[i] === 'conflict').map((e) => e.source),
      rejected: found.rejected, ignored: found.ignored, cleared: 0, storeTotal: store.count(),
    };
    if (req.clear) {
      try {
        result.cleared = await clearStored(req.mediaRoot, entries.map((e) => e.source));
      } catch (e) {
        throw toFerryError(e, `the ${entries.length} receipt(s) are stored in ${req.storeFile}, but clearing them from the stick failed`);
      }
    }
    return result;
  } finally {
    store.close();
  }
}

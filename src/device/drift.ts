/**
 * `ferry device drift`: does a slot still hold exactly the image it was written with?
 * Walks the slot's tree (a block slot not mounted is mounted read-only for it) and
 * compares every entry with the file index recorded when the slot was written (or the
 * signed index on the stick, drift-media.ts): added, removed, changed content, changed
 * metadata. Memory: the index (small entries, capped) plus one directory listing batch;
 * contents are hashed as streams.
 */
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { FerryError } from '../errors.js';
import { type DeviceDeps, type DeviceOptions, lockDevice, openDevice } from './context.js';
import { comparePaths } from './files/file-index.js';
import { contentCheck, metadataChanges } from './files/compare.js';
import { compileIgnores, type IgnoreMatcher } from './files/glob.js';
import { type EntrySource, type IndexStream, openIndexFile } from './files/index-reader.js';
import { slotIndexPath } from './files/index-store.js';
import { displayPath, walkTree } from './files/tree-walk.js';
import { fsPath } from './extract/whiteouts.js';
import { deliverReceipts, type Receipt, type ReceiptDelivery, RECEIPT_SCHEMA, slotSummary, utcStamp } from './receipts.js';
import { loadState, saveState, type DeviceState } from './state.js';
import { mediaIndexFrom } from './drift-media.js';
import type { SlotName } from './types.js';
import * as fsp from 'node:fs/promises';

/** What `ferry device drift` asks. */
export interface DriftOptions extends DeviceOptions {
  /** Default: the booted slot. */
  slot?: SlotName;
  /** More ignore globs, on top of the config's drift.ignore. */
  ignore?: string[];
  /** Trust size + mtime; hash only files whose size or mtime differ. */
  fast?: boolean;
  /** A stick: the receipt goes there, and its signed file index is used for a slot the device has none for. */
  mediaRoot?: string;
  clock?: () => Date;
}

/** One difference. `path` is absolute, for people ("/etc/hostname"). */
export interface DriftItem {
  path: string;
  change: 'added' | 'removed' | 'content' | 'metadata';
  details?: string[];
}

/** Items listed at most; the counts are always complete. */
export const MAX_DRIFT_ITEMS = 10_000;

/** The answer of a drift check. */
export interface DriftReport {
  slot: SlotName;
  image: string;
  version?: string;
  updateId?: string;
  /** Where the index came from: recorded by this device, or signed on the stick. */
  indexFrom: 'device' | 'media';
  clean: boolean;
  counts: { added: number; removed: number; content: number; metadata: number };
  items: DriftItem[];
  /** More differences than MAX_DRIFT_ITEMS were found (the counts are right). */
  truncated: boolean;
  entriesChecked: number;
  filesHashed: number;
  bytesHashed: number;
  durationMs: number;
  receipt?: Receipt;
  delivery?: ReceiptDelivery;
}

/** Compare a slot with its file index. */
export async function driftSlot(opts: DriftOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot' | 'verifyMedia'>): Promise<DriftReport> {
  const dev = await openDevice(opts, deps);
  // Reading needs no lock (the state is replaced atomically, and an apply never writes the
  // running slot), so a drift check on screen never makes an apply wait; only recording a
  // receipt in the state does.
  const lock = opts.mediaRoot !== undefined ? await lockDevice(dev, 'drift') : undefined;
  try {
    const clock = opts.clock ?? (() => new Date());
    const started = clock();
    const state = await loadState(dev.config.stateDir);
    const slotName = opts.slot ?? dev.booted;
    const rec = state.slots[slotName];
    const fromMedia = opts.mediaRoot === undefined ? undefined : mediaIndexFrom(opts.mediaRoot, dev, deps, clock);
    const { image, index, from } = await indexFor(dev.config.stateDir, state, slotName, fromMedia);
    let report: DriftReport;
    try {
      const slot = dev.slots[slotName];
      if (!slot.openTree) throw new FerryError('FILE_INDEX_MISSING', `slot ${slotName} is a ${slot.type} slot, which holds no file tree ferry can walk`);
      const tree = await slot.openTree();
      try {
        const ignore = compileIgnores([...dev.config.drift.ignore, ...(opts.ignore ?? [])]);
        const slotExtras = compileIgnores(tree.ignore);
        const base = { slot: slotName, image, ...(rec.version ? { version: rec.version } : {}), ...(rec.updateId ? { updateId: rec.updateId } : {}), indexFrom: from };
        report = { ...base, ...(await compareTree(tree.root, index, ignore, slotExtras, Boolean(opts.fast))), durationMs: 0 };
      } finally {
        await tree.release();
      }
    } finally {
      index.close();
    }
    report.durationMs = clock().getTime() - started.getTime();
    if (opts.mediaRoot !== undefined) {
      const receipt = driftReceipt(dev.config, state, dev.booted, report, Boolean(opts.fast), started, clock());
      await deliverReceipts(undefined, state, receipt);
      await saveState(dev.config.stateDir, state);
      report.delivery = await deliverReceipts(opts.mediaRoot, state);
      await saveState(dev.config.stateDir, state);
      report.receipt = receipt;
    }
    return report;
  } finally {
    await lock?.release();
  }
}

/** The index for a slot, opened as a stream: the device's own when it describes the image the slot holds, else the stick's signed one. */
async function indexFor(stateDir: string, state: DeviceState, slot: SlotName, fromMedia: ReturnType<typeof mediaIndexFrom> | undefined): Promise<{ image: string; index: IndexStream; from: 'device' | 'media' }> {
  const rec = state.slots[slot];
  if (rec.status === 'empty' || rec.imageDigest === undefined) throw new FerryError('FILE_INDEX_MISSING', `slot ${slot} holds no recorded image (${rec.status}); nothing to compare it with`);
  const own = await openIndexFile(slotIndexPath(stateDir, slot), `file index of slot ${slot}`);
  let ownImage: string | undefined;
  try {
    ownImage = own ? await own.image() : undefined;
  } catch (e) {
    own?.close();
    throw e;
  }
  if (own && ownImage === rec.imageDigest) return { image: ownImage, index: own, from: 'device' };
  own?.close();
  const signed = fromMedia ? await fromMedia(state, slot) : undefined;
  if (signed) return { image: rec.imageDigest, index: signed, from: 'media' };
  const why = own ? `its file index describes ${ownImage}, not ${rec.imageDigest}` : 'this device did not record a file index when it wrote it';
  throw new FerryError('FILE_INDEX_MISSING', `slot ${slot} (${rec.version ?? rec.imageDigest}): ${why}; give --media with a stick exported with --file-index, or reinstall the update`);
}

type Compared = Omit<DriftReport, 'slot' | 'image' | 'version' | 'updateId' | 'indexFrom' | 'durationMs' | 'receipt' | 'delivery'>;

/**
 * Walk `root` and compare it with `index`, both in path order: a merge of two sorted streams,
 * so memory holds a window of the index, not the index (issue 14). Reads `index` to its end.
 */
export async function compareTree(root: string, index: EntrySource, ignore: IgnoreMatcher, slotExtras: IgnoreMatcher, fast: boolean): Promise<Compared> {
  const r: Compared = { clean: true, counts: { added: 0, removed: 0, content: 0, metadata: 0 }, items: [], truncated: false, entriesChecked: 0, filesHashed: 0, bytesHashed: 0 };
  const add = (item: DriftItem): void => {
    r.counts[item.change]++;
    r.clean = false;
    if (r.items.length < MAX_DRIFT_ITEMS) r.items.push(item);
    else r.truncated = true;
  };
  // Directories found on disk that the index does not list: tar creates them for entries whose
  // parents the image does not list (implied: not drift), unless no index entry lies below
  // them (added). Decided once the index's next entry reaches "<dir>/".
  const undecided = new Implied((d) => add({ path: displayPath(d), change: 'added' }));
  let want = await index.read();
  undecided.seen(want?.path);
  const next = async (): Promise<void> => {
    want = await index.read();
    undecided.seen(want?.path);
  };
  const buf = Buffer.allocUnsafe(1024 * 1024);
  for await (const got of walkTree(root, ignore)) {
    r.entriesChecked++;
    // what the index holds before this path was not found: removed
    while (want !== undefined && comparePaths(want.path, got.path) < 0) {
      if (!ignore.ignores(displayPath(want.path))) add({ path: displayPath(want.path), change: 'removed' });
      await next();
    }
    if (want === undefined || want.path !== got.path) {
      // The root's own metadata is compared only when the image set it (a "./" entry).
      if (got.path === '' || slotExtras.ignores(displayPath(got.path))) continue;
      if (got.type === 'dir') undecided.add(got.path, want?.path);
      else add({ path: displayPath(got.path), change: 'added' });
      continue;
    }
    const w = want;
    await next();
    const link = got.type === 'symlink' ? (await fsp.readlink(fsPath(root, got.path), { encoding: 'buffer' })).toString('latin1') : undefined;
    const meta = metadataChanges(w, got, link);
    let check = contentCheck(w, got, fast);
    if (check === 'hash') {
      r.filesHashed++;
      r.bytesHashed += got.st.size;
      check = (await sha256Of(fsPath(root, got.path), buf)) === w.sha256 ? 'same' : 'differs';
    }
    if (check === 'differs') add({ path: displayPath(got.path), change: 'content', ...(meta.length ? { details: meta } : {}) });
    else if (meta.length) add({ path: displayPath(got.path), change: 'metadata', details: meta });
  }
  for (; want !== undefined; await next()) if (!ignore.ignores(displayPath(want.path))) add({ path: displayPath(want.path), change: 'removed' });
  r.items.sort((a, b) => comparePaths(a.path, b.path));
  return r;
}

/**
 * Walked directories the index does not list, each waiting for the index's cursor (its next
 * entry, in path order) to reach "<dir>/": an entry there means the directory is implied,
 * one past it (or the end) that nothing lies below it. Holds only the undecided ones.
 */
export class Implied {
  private open: string[] = [];
  constructor(private readonly added: (dir: string) => void) {}

  /** A directory found on disk but not in the index, while the index's cursor is at `cursor`. */
  add(dir: string, cursor: string | undefined): void {
    this.open.push(dir);
    this.seen(cursor);
  }

  /** The index's cursor moved to `cursor` (undefined: the end). */
  seen(cursor: string | undefined): void {
    if (this.open.length === 0) return;
    this.open = this.open.filter((d) => {
      const below = `${d}/`;
      if (cursor !== undefined && cursor.startsWith(below)) return false; // implied
      if (cursor === undefined || cursor > below) {
        this.added(d);
        return false;
      }
      return true;
    });
  }
}

/**
 * SHA-256 of a file through one reused 1 MiB buffer: a read stream per file would allocate a
 * fresh buffer for every read, which on a tree of small files cost 4.5x the time (measured
 * on a Debian minbase: 5.5 s vs 1.2 s for 6,767 files).
 */
async function sha256Of(file: Buffer, buf: Buffer): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

function driftReceipt(config: { deviceId: string; compatible: string }, state: DeviceState, booted: SlotName, rep: DriftReport, fast: boolean, started: Date, end: Date): Receipt {
  const n = rep.counts.added + rep.counts.removed + rep.counts.content + rep.counts.metadata;
  const message = rep.clean ? `slot ${rep.slot} matches ${rep.updateId ?? rep.image}` : `slot ${rep.slot}: ${n} ${n === 1 ? 'entry differs' : 'entries differ'} from ${rep.updateId ?? rep.image}`;
  return {
    schema: RECEIPT_SCHEMA,
    action: 'drift',
    stamp: utcStamp(end),
    deviceId: config.deviceId,
    compatible: config.compatible,
    result: rep.clean ? 'success' : 'failure',
    bootedSlot: booted,
    before: slotSummary(state),
    after: slotSummary(state),
    targetSlot: rep.slot,
    ...(rep.updateId ? { updateId: rep.updateId } : {}),
    ...(rep.version ? { version: rep.version } : {}),
    imageDigest: rep.image,
    ...(rep.clean ? {} : { error: { code: 'DRIFT_FOUND', message } }),
    message,
    drift: { counts: rep.counts, items: rep.items.slice(0, 200), truncated: rep.truncated || rep.items.length > 200, indexFrom: rep.indexFrom, fast },
    startedAt: started.toISOString(),
    finishedAt: end.toISOString(),
    durationMs: end.getTime() - started.getTime(),
  };
}

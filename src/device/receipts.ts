/**
 * Receipts: what a device did, written to the stick for headquarters
 * (`FERRY/receipts/<device-id>/<utc-stamp>-<action>.json`). When no writable stick
 * is present they wait in the device state and are flushed on the next one.
 * Receipts are reports, never trusted input: ferry does not read them back.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import type { ReceiptSignature } from '../trust/receipt-signature.js';
import type { DeviceEvent, DeviceState, OperatorRollback } from './state.js';
import type { SlotName, SlotStatus } from './types.js';

export const RECEIPT_SCHEMA = 'ferry.receipt/v1';

/** One receipt. */
export interface Receipt {
  schema: typeof RECEIPT_SCHEMA;
  action: 'apply' | 'boot-check' | 'mark-good' | 'mark-bad' | 'rollback' | 'drift';
  /** UTC stamp used in the file name, e.g. 20261122T001500.123Z. */
  stamp: string;
  deviceId: string;
  compatible: string;
  result: 'success' | 'failure' | 'cancelled' | 'rolled-back' | 'nothing-to-do';
  bootedSlot: SlotName;
  /** Slot statuses before and after. */
  before: Record<SlotName, { status: SlotStatus; version?: string }>;
  after: Record<SlotName, { status: SlotStatus; version?: string }>;
  targetSlot?: SlotName;
  updateId?: string;
  version?: string;
  counter?: number;
  imageDigest?: string;
  error?: { code: string; message: string };
  skipped?: Array<{ id: string; code: string; message: string }>;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  bytesWritten?: number;
  /** What happened, in words (e.g. "rollback by operator from 1.1.0 (slot B) to 1.0.0 (slot A)"). */
  message?: string;
  /** Set on a rollback the operator chose: when, from which version, to which. */
  rollback?: OperatorRollback;
  /** A drift check's findings (the first 200 differences; the counts are complete). */
  drift?: { counts: Record<'added' | 'removed' | 'content' | 'metadata', number>; items: Array<{ path: string; change: string; details?: string[] }>; truncated: boolean; indexFrom: 'device' | 'media'; fast: boolean };
  /** Why the device rolled back or fell back (boot-check), in words. */
  rollbackReason?: string;
  /** Boot attempts the slot on trial used, of those the bootloader allows (boot-check, when the bootloader counts them). */
  bootAttempts?: { used: number; allowed: number };
  /** The device's signature over the rest (trust/receipt-signature.ts); absent on receipts made before signing existed. */
  signature?: ReceiptSignature;
}

/** A compact UTC stamp for file names (no colons, sortable). */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** The slot summary recorded in a receipt. */
export function slotSummary(state: DeviceState): Receipt['before'] {
  const one = (s: SlotName) => ({ status: state.slots[s].status, ...(state.slots[s].version ? { version: state.slots[s].version } : {}) });
  return { A: one('A'), B: one('B') };
}

/** The receipts folder of a device on a stick. */
export function receiptsDir(mediaRoot: string, deviceId: string): string {
  return path.join(mediaRoot, 'FERRY', 'receipts', deviceId);
}

/** Most receipts with one stamp and action in a folder (a stick pre-filled with names cannot keep ferry looping). */
const MAX_SAME_STAMP = 1000;

async function freeName(dir: string, base: string): Promise<string> {
  for (let i = 1; i <= MAX_SAME_STAMP; i++) {
    const file = path.join(dir, i === 1 ? `${base}.json` : `${base}-${i}.json`);
    try {
      await fsp.lstat(file);
    } catch {
      return file;
    }
  }
  throw new FerryError('LIMIT_EXCEEDED', `${dir} already holds ${MAX_SAME_STAMP} receipts named ${base}: do not use this stick; report it to headquarters`);
}

/**
 * Create (or find) `FERRY/receipts/<device-id>` one component at a time, refusing any
 * component that is not a real directory: a crafted stick's symlink there would
 * otherwise steer a root-owned write anywhere on the device.
 */
async function realReceiptsDir(mediaRoot: string, deviceId: string): Promise<string> {
  let dir = mediaRoot;
  for (const part of ['FERRY', 'receipts', deviceId]) {
    dir = path.join(dir, part);
    await fsp.mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const st = await fsp.lstat(dir);
    if (!st.isDirectory()) {
      throw new FerryError('UNSAFE_MEDIA', `${dir} on the media is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; receipts are not written through it (they wait in the device state): do not use this stick; report it to headquarters`);
    }
  }
  return dir;
}

/** Write one receipt atomically onto the stick; returns its path. */
export async function writeReceipt(mediaRoot: string, r: Receipt): Promise<string> {
  const dir = await realReceiptsDir(mediaRoot, r.deviceId);
  const file = await freeName(dir, `${r.stamp}-${r.action}`);
  await writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

/** What happened to the receipts during a flush. */
export interface ReceiptDelivery {
  written: string[];
  kept: number;
  error?: string;
  /** The error's code (READ_ONLY_MEDIA for an archive; the write's own code otherwise), for a UI's own words. */
  errorCode?: string;
}

/** Append an event to the device's history; a repeated identical boot-check result replaces its predecessor. */
export function recordEvent(state: DeviceState, ev: DeviceEvent): void {
  const events = (state.events ??= []);
  const last = events[events.length - 1];
  if (last && ev.receipt === undefined && last.receipt === undefined && last.action === ev.action && last.result === ev.result && last.message === ev.message) events.pop();
  events.push(ev);
}

function eventOf(r: Receipt): DeviceEvent {
  const message = r.message ?? r.error?.message;
  return {
    at: r.finishedAt, action: r.action, result: r.result, receipt: r.stamp,
    ...(r.targetSlot ? { slot: r.targetSlot } : {}), ...(r.version ? { version: r.version } : {}),
    ...(r.error ? { code: r.error.code } : {}), ...(message ? { message } : {}),
  };
}

/**
 * Queue `receipt` (if any) and write every waiting receipt to the stick, oldest
 * first; whatever cannot be written (no stick, read-only stick, an archive file given as
 * media) stays queued in `state.pendingReceipts`. The caller persists the state.
 */
export async function deliverReceipts(mediaRoot: string | undefined, state: DeviceState, receipt?: Receipt): Promise<ReceiptDelivery> {
  if (receipt) {
    state.pendingReceipts.push(receipt);
    recordEvent(state, eventOf(receipt));
  }
  const written: string[] = [];
  if (mediaRoot === undefined) return { written, kept: state.pendingReceipts.length };
  // loaded here, not at the top: HQ's receipts commands import this module for the schema, and
  // media/source.js brings the OCI and registry readers (a tenth of a second at every start)
  const { receiptsRootFor } = await import('../media/source.js');
  if ((await receiptsRootFor(mediaRoot)) === undefined) {
    return { written, kept: state.pendingReceipts.length, error: `${mediaRoot} is an archive (read-only): receipts wait in the device state for the next writable stick`, errorCode: 'READ_ONLY_MEDIA' };
  }
  while (state.pendingReceipts.length > 0) {
    try {
      const r = state.pendingReceipts[0]!;
      const file = await writeReceipt(mediaRoot, r);
      written.push(file);
      const ev = state.events?.find((e) => e.receipt === r.stamp && e.action === r.action);
      if (ev) ev.deliveredTo = file;
    } catch (e) {
      return { written, kept: state.pendingReceipts.length, error: (e as Error).message, errorCode: toFerryError(e).code };
    }
    state.pendingReceipts.shift();
  }
  return { written, kept: 0 };
}

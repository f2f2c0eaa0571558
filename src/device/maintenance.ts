/**
 * `ferry device mark-good | mark-bad | rollback`: manual control of the A/B pair,
 * each under the device lock, changing the bootloader first and the state second
 * (the bootloader is what decides the next boot). The questions "may I roll back?"
 * and "what does committing this slot cost?" are answered here once (rollbackOption,
 * markGoodRisk), for the CLI and the terminal UI alike.
 */
import { FerryError } from '../errors.js';
import { type DeviceDeps, type DeviceOptions, lockDevice, openDevice, type DeviceContext } from './context.js';
import { settleDeadApply } from './interrupted.js';
import { deliverReceipts, type Receipt, type ReceiptDelivery, RECEIPT_SCHEMA, slotSummary, utcStamp } from './receipts.js';
import { type DeviceState, commitRelease, floorOf, loadState, type OperatorRollback, type RecordedError, saveState } from './state.js';
import { otherSlot, type SlotName } from './types.js';
import { type Why, why } from './why.js';

/** Options of the maintenance commands. */
export interface MaintenanceOptions extends DeviceOptions {
  /** The slot to act on (mark-good: default booted; mark-bad: default the other one). */
  slot?: SlotName;
  /** mark-good: commit even a slot whose last health check failed (the deliberate second confirmation). */
  force?: boolean;
  mediaRoot?: string;
  clock?: () => Date;
}

/** What a maintenance command did. */
export interface MaintenanceResult {
  action: 'mark-good' | 'mark-bad' | 'rollback';
  slot: SlotName;
  message: string;
  /** The receipt and where it went (the stick, or waiting in the device state). */
  receipt: Receipt;
  delivery: ReceiptDelivery;
}

type Done = Pick<MaintenanceResult, 'action' | 'slot' | 'message'> & { rollback?: OperatorRollback };
type Body = (dev: DeviceContext, state: DeviceState, now: Date) => Promise<Done>;

/** Whether a rollback is possible from the running slot, and to what; otherwise why not, in words. */
export type RollbackOption = { ok: true; slot: SlotName; version?: string } | { ok: false; reason: string; why: Why };

/** Rollback goes only to a committed, good slot that is not newer than the running one. */
export function rollbackOption(state: DeviceState, booted: SlotName): RollbackOption {
  const slot = otherSlot(booted);
  const rec = state.slots[slot];
  const run = state.slots[booted];
  const v = rec.version ?? 'an unknown version';
  if (rec.status === 'empty') return { ok: false, reason: `slot ${slot} is empty (nothing was ever installed there), so there is nothing to go back to`, why: why('rollbackEmpty', { slot }) };
  if (rec.status === 'bad') return { ok: false, reason: `slot ${slot} (${v}) is marked bad and must not boot, so there is nothing to go back to`, why: why('rollbackBad', { slot, v: rec.version }) };
  if (rec.status === 'pending') return { ok: false, reason: `slot ${slot} holds ${v}, installed and not yet tried: that is the update, not an older system`, why: why('rollbackPending', { slot, v: rec.version }) };
  const newer = rec.counter !== undefined && (run.counter === undefined || (rec.target === run.target && rec.counter > run.counter));
  if (newer && run.status === 'good') {
    return { ok: false, reason: `slot ${slot} holds ${v}, newer than the running ${run.version ?? 'system'}: that would not be a rollback`, why: why('rollbackNewer', { slot, v: rec.version, running: run.version }) };
  }
  return { ok: true, slot, ...(rec.version ? { version: rec.version } : {}) };
}

/** What committing `slot` means beyond the obvious: a failed health check to override, a floor that rises. */
export interface MarkGoodRisk {
  /** Set when the slot's last health check failed: committing it then needs --force. */
  failedCheck?: RecordedError;
  /** In words, when the anti-rollback floor rises: "after this, versions older than 1.1.0 can no longer be installed". */
  floor?: string;
  /** The version the floor rises to (absent when the slot never recorded one; `floor` then names the counter). */
  floorVersion?: string;
}

/** The consequences of mark-good for `slot`, for the prompt and for the refusal. */
export function markGoodRisk(state: DeviceState, slot: SlotName): MarkGoodRisk {
  const rec = state.slots[slot];
  const out: MarkGoodRisk = {};
  if (rec.lastError?.code === 'HEALTH_CHECK_FAILED') out.failedCheck = rec.lastError;
  const cur = rec.target === undefined ? undefined : floorOf(state, rec.target);
  if (rec.target !== undefined && rec.counter !== undefined && (cur === undefined || rec.counter > cur)) {
    out.floor = `after this, versions older than ${rec.version ?? `counter ${rec.counter}`} can no longer be installed`;
    if (rec.version !== undefined) out.floorVersion = rec.version;
  }
  return out;
}

async function withDevice(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>, body: Body): Promise<MaintenanceResult> {
  const dev = await openDevice(opts, deps);
  const lock = await lockDevice(dev, 'maintenance');
  try {
    const state = await loadState(dev.config.stateDir);
    const clock = opts.clock ?? (() => new Date());
    await settleDeadApply(dev, state, clock());
    const started = clock();
    const before = slotSummary(state);
    const res = await body(dev, state, started);
    const end = clock();
    state.lastResult = { action: res.action, result: 'success', at: end.toISOString(), message: res.message };
    const rec = state.slots[res.slot];
    const receipt: Receipt = {
      schema: RECEIPT_SCHEMA, action: res.action, stamp: utcStamp(end), deviceId: dev.config.deviceId, compatible: dev.config.compatible,
      result: 'success', bootedSlot: dev.booted, before, after: slotSummary(state), targetSlot: res.slot,
      ...(rec.updateId ? { updateId: rec.updateId } : {}), ...(rec.version ? { version: rec.version } : {}),
      startedAt: started.toISOString(), finishedAt: end.toISOString(), durationMs: end.getTime() - started.getTime(),
      message: res.message, ...(res.rollback ? { rollback: res.rollback } : {}),
    };
    await deliverReceipts(undefined, state, receipt);
    // saved before the stick is written: a stick that stalls the receipt write cannot keep the change out of the state
    await saveState(dev.config.stateDir, state);
    const delivery = await deliverReceipts(opts.mediaRoot, state);
    await saveState(dev.config.stateDir, state);
    return { action: res.action, slot: res.slot, message: res.message, receipt, delivery };
  } finally {
    await lock.release();
  }
}

/** The refusal of mark-good without --force for a slot whose last health check failed. */
function failedCheckRefusal(slot: SlotName, version: string | undefined, risk: MarkGoodRisk): FerryError {
  const f = risk.failedCheck!;
  const floor = risk.floor ? `; ${risk.floor}` : '';
  return new FerryError(
    'CONFIRMATION_REQUIRED',
    `slot ${slot} (${version ?? 'unknown version'}) failed its health check at ${f.at} (${f.message}); committing it makes it the default${floor}: run again with --force to commit it anyway`,
    { details: { failedCheck: f, ...(risk.floor ? { floor: risk.floor } : {}) } },
  );
}

/** Commit a slot (default: the booted one): good in the bootloader and the state; raises the floor. */
export function markGood(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<MaintenanceResult> {
  return withDevice(opts, deps, async (dev, state, now) => {
    const slot = opts.slot ?? dev.booted;
    const rec = state.slots[slot];
    if (slot !== dev.booted && rec.status !== 'good') {
      throw new FerryError('SLOT_BUSY', `slot ${slot} is ${rec.status} and not running: only a booted slot can be committed; boot it first`);
    }
    const risk = markGoodRisk(state, slot);
    if (risk.failedCheck && !opts.force) throw failedCheckRefusal(slot, rec.version, risk);
    await dev.bootloader.markGood(slot);
    state.slots[slot] = { ...rec, status: 'good', committedAt: rec.status === 'good' ? (rec.committedAt ?? now.toISOString()) : now.toISOString() };
    delete state.slots[slot].lastError;
    commitRelease(state, rec);
    const forced = risk.failedCheck ? ' despite its failed health check' : '';
    return { action: 'mark-good', slot, message: `slot ${slot} (${rec.version ?? 'unknown version'}) is marked good and primary${forced}${risk.floor ? `; ${risk.floor}` : ''}` };
  });
}

/** Mark a slot bad (default: the other one); the booted slot only when the other is good to fall back to. */
export function markBad(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<MaintenanceResult> {
  return withDevice(opts, deps, async (dev, state, now) => {
    const slot = opts.slot ?? otherSlot(dev.booted);
    const other = otherSlot(slot);
    if (state.slots[other].status !== 'good' && slot === dev.booted) {
      throw new FerryError('SLOT_BUSY', `refusing to mark the running slot ${slot} bad: slot ${other} is ${state.slots[other].status}, so nothing would boot`);
    }
    await dev.bootloader.markBad(slot);
    // The running slot goes: the good fallback must be bootable in the bootloader too (as boot-check's rollback does).
    if (slot === dev.booted) await dev.bootloader.markGood(other);
    state.slots[slot] = { ...state.slots[slot], status: 'bad', lastError: { code: 'SLOT_BUSY', message: 'marked bad by hand', at: now.toISOString() } };
    return { action: 'mark-bad', slot, message: `slot ${slot} is marked bad; slot ${other} boots next` };
  });
}

/**
 * Go back to the other slot if it is a committed, good, older one; refuse otherwise.
 * A running slot that is still on trial (pending) is rejected (bad) on the way, so the
 * next boot-check records an operator's choice, not a failed health check.
 */
export function rollback(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<MaintenanceResult> {
  return withDevice(opts, deps, async (dev, state, now) => {
    const opt = rollbackOption(state, dev.booted);
    if (!opt.ok) throw new FerryError('ROLLBACK_REFUSED', `cannot roll back: ${opt.reason}`);
    const slot = opt.slot;
    const from = state.slots[dev.booted];
    // The floor is not lowered: the older release may boot because it is already installed, but cannot be installed again.
    if (from.status === 'pending') {
      await dev.bootloader.markBad(dev.booted);
      state.slots[dev.booted] = { ...from, status: 'bad' };
    }
    await dev.bootloader.markGood(slot);
    const rb: OperatorRollback = {
      by: 'operator', at: now.toISOString(),
      from: { slot: dev.booted, ...(from.version ? { version: from.version } : {}) },
      to: { slot, ...(opt.version ? { version: opt.version } : {}) },
    };
    state.rollback = rb;
    const message = `rollback by operator from ${from.version ?? 'unknown version'} (slot ${dev.booted}) to ${opt.version ?? 'unknown version'} (slot ${slot}); it starts at the next boot`;
    return { action: 'rollback', slot, message, rollback: rb };
  });
}

/**
 * `ferry device mark-good | mark-bad | rollback`: manual control of the A/B pair,
 * each under the device lock, changing the bootloader first and the state second
 * (the bootloader is what decides the next boot).
 */
import { FerryError } from '../errors.js';
import { type DeviceDeps, type DeviceOptions, lockDevice, openDevice, type DeviceContext } from './context.js';
import { deliverReceipts, type Receipt, RECEIPT_SCHEMA, slotSummary, utcStamp } from './receipts.js';
import { type DeviceState, loadState, raiseFloor, saveState } from './state.js';
import { otherSlot, type SlotName } from './types.js';

/** Options of the maintenance commands. */
export interface MaintenanceOptions extends DeviceOptions {
  /** The slot to act on (mark-good: default booted; mark-bad: default the other one). */
  slot?: SlotName;
  mediaRoot?: string;
  clock?: () => Date;
}

/** What a maintenance command did. */
export interface MaintenanceResult {
  action: 'mark-good' | 'mark-bad' | 'rollback';
  slot: SlotName;
  message: string;
}

type Body = (dev: DeviceContext, state: DeviceState, now: Date) => Promise<MaintenanceResult>;

async function withDevice(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>, body: Body): Promise<MaintenanceResult> {
  const dev = await openDevice(opts, deps);
  const lock = await lockDevice(dev, 'maintenance');
  try {
    const state = await loadState(dev.config.stateDir);
    const clock = opts.clock ?? (() => new Date());
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
    };
    await deliverReceipts(opts.mediaRoot, state, receipt);
    await saveState(dev.config.stateDir, state);
    return res;
  } finally {
    await lock.release();
  }
}

/** Commit a slot (default: the booted one): good in the bootloader and the state; raises the floor. */
export function markGood(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<MaintenanceResult> {
  return withDevice(opts, deps, async (dev, state, now) => {
    const slot = opts.slot ?? dev.booted;
    const rec = state.slots[slot];
    if (slot !== dev.booted && rec.status !== 'good') {
      throw new FerryError('SLOT_BUSY', `slot ${slot} is ${rec.status} and not running: only a booted slot can be committed; boot it first`);
    }
    await dev.bootloader.markGood(slot);
    state.slots[slot] = { ...rec, status: 'good', committedAt: rec.status === 'good' ? (rec.committedAt ?? now.toISOString()) : now.toISOString() };
    delete state.slots[slot].lastError;
    if (rec.target !== undefined && rec.counter !== undefined) raiseFloor(state, rec.target, rec.counter);
    return { action: 'mark-good', slot, message: `slot ${slot} (${rec.version ?? 'unknown version'}) is marked good and primary` };
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

/** Make the other slot primary if it is good (a committed earlier release); refuse otherwise. */
export function rollback(opts: MaintenanceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<MaintenanceResult> {
  return withDevice(opts, deps, async (dev, state) => {
    const slot = otherSlot(dev.booted);
    const rec = state.slots[slot];
    if (rec.status !== 'good') {
      throw new FerryError('ROLLBACK_REFUSED', `cannot roll back: slot ${slot} is ${rec.status}, not a committed good slot`);
    }
    // The floor is not lowered: the older release may boot because it is already installed, but cannot be installed again.
    await dev.bootloader.markGood(slot);
    return { action: 'rollback', slot, message: `slot ${slot} (${rec.version ?? 'unknown version'}) boots next; reboot to roll back` };
  });
}

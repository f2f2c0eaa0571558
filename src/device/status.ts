/**
 * `ferry device status`: the booted slot, each slot's record, the bootloader's
 * view, the device clock against the trusted time, waiting receipts and the last
 * result. Read-only, except that with a writable stick (`--media`) waiting
 * receipts are flushed to it (under the lock).
 */
import { type DeviceDeps, type DeviceOptions, lockDevice, openDevice } from './context.js';
import { type MarkGoodRisk, markGoodRisk, type RollbackOption, rollbackOption } from './maintenance.js';
import { deliverReceipts, type ReceiptDelivery } from './receipts.js';
import { type DeviceEvent, type DeviceState, type LastResult, loadState, type OperatorRollback, saveState, type SlotRecord } from './state.js';
import { releaseVersion } from './plan.js';
import type { BootState, SlotName } from './types.js';

/** Everything status reports (also the --json shape). */
export interface DeviceStatus {
  deviceId: string;
  compatible: string;
  configFile: string;
  booted: SlotName;
  bootedSource: string;
  bootloader: { describe: string; state?: BootState; error?: string };
  slots: Record<SlotName, SlotRecord & { describe?: string }>;
  /** The anti-rollback floor per target as a raw counter (for scripts; people read floorVersions). */
  counterFloor: Record<string, number>;
  /** Each floor as the version a technician recognises, when a slot still records that release. */
  floorVersions: Record<string, string>;
  clock: string;
  trustedTime?: string;
  /** True when the device clock is behind the newest trusted time (dead RTC battery?). */
  clockBehindTrustedTime: boolean;
  pendingReceipts: number;
  lastResult?: LastResult;
  delivery?: ReceiptDelivery;
  /** Set when the running slot is pending or bad: what that means, in words (installs wait until it is settled). */
  attention?: string;
  /** Whether `rollback` would go back, and to what; or why there is nothing to go back to. */
  rollbackOption: RollbackOption;
  /** What mark-good of the running slot would override and raise. */
  markGoodRisk: MarkGoodRisk;
  /** The last rollback the operator chose. */
  rollback?: OperatorRollback;
  /** The device's recent history, oldest first. */
  events: DeviceEvent[];
  /** The newest boot-check event. */
  lastBootCheck?: DeviceEvent;
}

/** The running slot's unsettled state in words, or undefined when it is committed. */
export function attentionFor(state: DeviceState, booted: SlotName): string | undefined {
  const rec = state.slots[booted];
  const v = rec.version ?? 'an unknown version';
  if (rec.status === 'pending') {
    const failed = rec.lastError?.code === 'HEALTH_CHECK_FAILED' ? `its health check FAILED (${rec.lastError.message})` : 'its boot check has not passed yet';
    return `the running slot ${booted} (${v}) is a pending update: ${failed}; keep it (mark-good) or go back (rollback) before installing anything`;
  }
  if (rec.status === 'bad') return `the running slot ${booted} (${v}) is marked bad${rec.lastError ? ` (${rec.lastError.message})` : ''}; go back (rollback) or keep it (mark-good) if it is healthy`;
  return undefined;
}

/** Each target's floor as a version, when a slot still records the release with that counter. */
export function floorVersions(state: DeviceState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [target, counter] of Object.entries(state.counterFloor)) {
    const v = releaseVersion(state, target, counter);
    if (v !== undefined) out[target] = v;
  }
  return out;
}

/** The floors in words: versions, never raw counters. */
function floorWords(s: DeviceStatus): string {
  const words = Object.keys(s.counterFloor).map((t) =>
    Object.hasOwn(s.floorVersions, t) ? `${t}: versions older than ${s.floorVersions[t]} are refused` : `${t}: set (no slot still holds that release, so its version is unknown; --json has the counter)`,
  );
  return words.join('; ') || 'none yet (any release can be installed)';
}

/** Options of status. */
export interface StatusOptions extends DeviceOptions {
  mediaRoot?: string;
  clock?: () => Date;
}

/** Gather the device status (and flush waiting receipts when a stick is given). */
export async function deviceStatus(opts: StatusOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<DeviceStatus> {
  const dev = await openDevice(opts, deps);
  let state: DeviceState;
  let delivery: ReceiptDelivery | undefined;
  if (opts.mediaRoot !== undefined) {
    const lock = await lockDevice(dev, 'status');
    try {
      state = await loadState(dev.config.stateDir);
      if (state.pendingReceipts.length > 0) {
        delivery = await deliverReceipts(opts.mediaRoot, state);
        if (delivery.written.length > 0) await saveState(dev.config.stateDir, state);
      }
    } finally {
      await lock.release();
    }
  } else {
    state = await loadState(dev.config.stateDir);
  }
  const bootloader: DeviceStatus['bootloader'] = { describe: dev.bootloader.describe() };
  try {
    bootloader.state = await dev.bootloader.getState();
  } catch (e) {
    bootloader.error = (e as Error).message;
  }
  const describe = (s: SlotName): string => dev.slots[s].describe();
  const clock = (opts.clock ?? (() => new Date()))();
  return {
    deviceId: dev.config.deviceId,
    compatible: dev.config.compatible,
    configFile: dev.configFile,
    booted: dev.booted,
    bootedSource: dev.bootedSource,
    bootloader,
    slots: { A: { ...state.slots.A, describe: describe('A') }, B: { ...state.slots.B, describe: describe('B') } },
    counterFloor: state.counterFloor,
    floorVersions: floorVersions(state),
    clock: clock.toISOString(),
    ...(state.trustedTime ? { trustedTime: state.trustedTime } : {}),
    clockBehindTrustedTime: state.trustedTime !== undefined && clock.getTime() < Date.parse(state.trustedTime),
    pendingReceipts: state.pendingReceipts.length,
    ...(state.lastResult ? { lastResult: state.lastResult } : {}),
    ...(delivery ? { delivery } : {}),
    ...truth(state, dev.booted),
  };
}

function truth(state: DeviceState, booted: SlotName): Pick<DeviceStatus, 'attention' | 'rollbackOption' | 'markGoodRisk' | 'rollback' | 'events' | 'lastBootCheck'> {
  const events = state.events ?? [];
  const attention = attentionFor(state, booted);
  const lastBootCheck = [...events].reverse().find((e) => e.action === 'boot-check');
  return {
    ...(attention ? { attention } : {}),
    rollbackOption: rollbackOption(state, booted),
    markGoodRisk: markGoodRisk(state, booted),
    ...(state.rollback ? { rollback: state.rollback } : {}),
    events,
    ...(lastBootCheck ? { lastBootCheck } : {}),
  };
}

/** Human lines for `ferry device status`. */
export function formatStatus(s: DeviceStatus): string[] {
  const lines = [`device ${s.deviceId} (${s.compatible}), booted slot ${s.booted} (from ${s.bootedSource})`];
  if (s.attention) lines.push(`ATTENTION: ${s.attention}`);
  for (const n of ['A', 'B'] as const) {
    const r = s.slots[n];
    const boot = s.bootloader.state?.slots[n];
    // The version, never the raw counter (that stays in --json).
    const parts = [`slot ${n}${n === s.booted ? '*' : ' '} ${r.status.padEnd(7)}`, r.version ?? '-', r.imageDigest ? r.imageDigest.slice(0, 19) : ''];
    if (boot) parts.push(`[boot: ${boot.good ? 'ok' : 'no'}, ${boot.attemptsLeft} tries]`);
    if (r.describe) parts.push(`(${r.describe})`);
    lines.push(parts.filter(Boolean).join('  '));
    if (r.lastError) lines.push(`        last error ${r.lastError.code}: ${r.lastError.message}`);
  }
  lines.push(`bootloader ${s.bootloader.describe}: ${s.bootloader.state ? `order ${s.bootloader.state.order.join(' ')}` : `unreadable (${s.bootloader.error})`}`);
  lines.push(`anti-rollback floor: ${floorWords(s)}`);
  lines.push(`clock ${s.clock}, trusted time ${s.trustedTime ?? 'none'}${s.clockBehindTrustedTime ? ' (clock is behind: check the RTC)' : ''}`);
  lines.push(`receipts waiting for a writable stick: ${s.pendingReceipts}${s.delivery?.written.length ? ` (${s.delivery.written.length} just written)` : ''}`);
  if (s.rollback) lines.push(`rollback by operator at ${s.rollback.at}: from ${s.rollback.from.version ?? 'unknown version'} (slot ${s.rollback.from.slot}) to ${s.rollback.to.version ?? 'unknown version'} (slot ${s.rollback.to.slot})`);
  lines.push(s.rollbackOption.ok ? `rollback possible to slot ${s.rollbackOption.slot} (${s.rollbackOption.version ?? 'unknown version'})` : `no rollback: ${s.rollbackOption.reason}`);
  if (s.lastBootCheck) lines.push(`last boot check: ${s.lastBootCheck.result} at ${s.lastBootCheck.at}${s.lastBootCheck.message ? `: ${s.lastBootCheck.message}` : ''}`);
  if (s.lastResult) lines.push(`last: ${s.lastResult.action} ${s.lastResult.result} at ${s.lastResult.at}${s.lastResult.code ? ` [${s.lastResult.code}]` : ''}${s.lastResult.message ? `: ${s.lastResult.message}` : ''}`);
  return lines;
}

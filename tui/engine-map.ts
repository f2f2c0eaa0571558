/**
 * Pure mapping from the device engine's data (status, planner verdicts, receipts) to
 * what the screens show. No I/O: tui/engine.ts gathers through src/device/index.ts,
 * this translates. Every judgement (installable? rollback possible? what does mark-good
 * cost?) is the engine's; nothing here decides anew.
 */
import { type DeviceEvent, type DeviceStatus, type InstallPlan, type MaintenanceResult, type MarkGoodRisk, type MediaSurvey, type ReceiptDelivery, SLOT_NAMES, type UpdateCandidate, verdictFor } from '../src/device/index.js';
import type { ErrorCode } from '../src/errors.js';
import type { UpdateManifest } from '../src/trust/types.js';
import type { ApplyOutcome, DeviceInfo, HistoryEntry, MaintenanceOutcome, PlanInfo, ReceiptWait, SlotInfo, UpdateEntry } from './engine-types.js';

/** "CN=ferry signer 2026,O=ACME" → "ferry signer 2026"; other forms pass through. */
export function signerName(subject: string): string {
  const m = /(?:^|[,/]\s*)CN=([^,/]+)/.exec(subject);
  return (m?.[1] ?? subject).trim();
}

function slotInfo(st: DeviceStatus, name: 'A' | 'B'): SlotInfo {
  const r = st.slots[name];
  const boot = st.bootloader.state;
  return {
    name,
    status: r.status,
    booted: name === st.booted,
    ...(r.version !== undefined ? { version: r.version } : {}),
    ...(r.counter !== undefined ? { counter: r.counter } : {}),
    ...(r.imageDigest !== undefined ? { digest: r.imageDigest } : {}),
    ...(r.installedAt !== undefined ? { installedAt: r.installedAt } : {}),
    ...(r.describe !== undefined ? { describe: r.describe } : {}),
    ...(r.lastError ? { lastError: { code: r.lastError.code, message: r.lastError.message, at: r.lastError.at } } : {}),
    ...(boot ? { bootGood: boot.slots[name].good, attemptsLeft: boot.slots[name].attemptsLeft } : {}),
  };
}

/** One history entry; `waiting` when its receipt is still queued on the device. */
export function historyEntry(e: DeviceEvent, waiting: Set<string>): HistoryEntry {
  return {
    at: e.at, action: e.action, result: e.result, ok: e.result === 'success' || e.result === 'nothing-to-do',
    ...(e.version ? { version: e.version } : {}), ...(e.slot ? { slot: e.slot } : {}), ...(e.code ? { code: e.code } : {}),
    ...(e.message ? { message: e.message } : {}), ...(e.deliveredTo ? { deliveredTo: e.deliveredTo } : {}),
    ...(e.receipt && waiting.has(`${e.receipt}-${e.action}`) ? { waiting: true } : {}),
  };
}

/** Screen 1's data from the engine's status. */
export function toDeviceInfo(st: DeviceStatus, waitingReceipts: Set<string> = new Set()): DeviceInfo {
  const running = st.slots[st.booted];
  const last = st.lastResult;
  const boot = st.bootloader.state;
  const floor = running.target !== undefined && Object.hasOwn(st.counterFloor, running.target) ? st.counterFloor[running.target] : undefined;
  const fv = running.target !== undefined && Object.hasOwn(st.floorVersions, running.target) ? st.floorVersions[running.target] : undefined;
  const rb = st.rollback;
  return {
    deviceId: st.deviceId,
    compatible: st.compatible,
    bootedSlot: st.booted,
    slots: SLOT_NAMES.map((name) => slotInfo(st, name)),
    bootOrder: boot?.order ?? [],
    bootloader: st.bootloader.describe,
    ...(boot ? {} : { bootloaderError: st.bootloader.error ?? '?' }),
    clock: st.clock,
    ...(st.trustedTime !== undefined ? { trustedTime: st.trustedTime } : {}),
    ...(floor !== undefined ? { counterFloor: floor } : {}),
    ...(fv !== undefined ? { floorVersion: fv } : {}),
    ...(last
      ? { lastResult: { action: last.action, ok: last.result === 'success' || last.result === 'nothing-to-do', at: last.at, ...(last.updateId ? { version: last.updateId } : {}), ...(last.code ? { code: last.code } : {}), ...(last.message ? { message: last.message } : {}) } }
      : {}),
    pendingReceipts: st.pendingReceipts,
    ...(st.attention ? { attention: st.attention } : {}),
    rollback: st.rollbackOption,
    markGood: {
      ...(st.markGoodRisk.failedCheck ? { failedCheck: { message: st.markGoodRisk.failedCheck.message, at: st.markGoodRisk.failedCheck.at } } : {}),
      ...(st.markGoodRisk.floor ? { floor: true } : {}),
      ...(st.markGoodRisk.floorVersion ? { floorVersion: st.markGoodRisk.floorVersion } : {}),
    },
    ...(rb ? { operatorRollback: { at: rb.at, fromSlot: rb.from.slot, toSlot: rb.to.slot, ...(rb.from.version ? { fromVersion: rb.from.version } : {}), ...(rb.to.version ? { toVersion: rb.to.version } : {}) } } : {}),
    history: st.events.map((e) => historyEntry(e, waitingReceipts)),
    ...(st.lastBootCheck ? { lastBootCheck: historyEntry(st.lastBootCheck, waitingReceipts) } : {}),
  };
}

/** One row of screen 2: the candidate and, through the engine's planner, why it cannot be installed. */
export function toUpdateEntry(c: UpdateCandidate, inputs: MediaSurvey['inputs'], unverified?: UpdateManifest): UpdateEntry {
  // A refused update's own claims (unverified) are shown for orientation only; its row is always ✗.
  const m = c.manifest ?? (c.refusal && unverified?.id === c.id ? unverified : undefined);
  const base: UpdateEntry = { id: c.id, target: m?.target.name ?? '?', version: m?.target.version ?? c.id };
  if (m) {
    Object.assign(base, { counter: m.target.counter, sizeBytes: m.image.payloadBytes, created: m.created, expires: m.expires, ...(m.notes !== undefined ? { notes: m.notes } : {}) });
  }
  if (c.signers && c.signers.length > 0) base.signer = c.signers.map(signerName).join(', ');
  if (c.signerDetails && c.signerDetails.length > 0) base.signerDetails = c.signerDetails.map((d) => ({ ...d }));
  const v = verdictFor(c, inputs);
  return v ? { ...base, problem: { code: v.code as ErrorCode, message: v.message, ...(v.why ? { why: v.why } : {}) } } : base;
}

/** Screen 4's data from the planner's InstallPlan. */
export function toPlanInfo(plan: InstallPlan, slotDescribe: string, fromVersion?: string): PlanInfo {
  const u = plan.update;
  return {
    id: u.id,
    ...(fromVersion !== undefined ? { fromVersion } : {}),
    toVersion: u.target.version,
    targetSlot: plan.target,
    slotDescribe,
    bytesToWrite: plan.payloadBytes,
    neededBytes: plan.space.neededBytes,
    ...(plan.space.availableBytes !== undefined ? { availableBytes: plan.space.availableBytes } : {}),
    ...(u.notes !== undefined ? { notes: u.notes } : {}),
    signers: plan.signers.map(signerName),
  };
}

/** Why receipts of a delivery wait on the device, as data (the screens say it from the catalogue). */
export function receiptWaitOf(delivery: ReceiptDelivery): ReceiptWait {
  return { kept: delivery.kept, ...(delivery.errorCode ? { code: delivery.errorCode } : {}), ...(delivery.error ? { detail: delivery.error } : {}) };
}

/** The receipt line of a delivery: the file on the stick, or why it waits. */
export function receiptOf(delivery: ReceiptDelivery): { receiptPath?: string; receiptWait?: ReceiptWait } {
  const written = delivery.written[delivery.written.length - 1];
  if (written !== undefined && delivery.kept === 0) return { receiptPath: written };
  return { receiptWait: receiptWaitOf(delivery) };
}

/** Screen 7's data from a finished mark-good or rollback. */
export function toMaintenanceOutcome(r: MaintenanceResult, risk?: MarkGoodRisk): MaintenanceOutcome {
  const rb = r.receipt.rollback;
  return {
    action: r.action === 'rollback' ? 'rollback' : 'mark-good',
    slot: r.slot,
    ...(r.receipt.version ? { version: r.receipt.version } : {}),
    ...(risk?.failedCheck ? { forced: true } : {}),
    ...(risk?.floor ? { floor: true } : {}),
    ...(risk?.floorVersion ? { floorVersion: risk.floorVersion } : {}),
    ...(rb ? { from: { slot: rb.from.slot, ...(rb.from.version ? { version: rb.from.version } : {}) }, ...(rb.to.version ? { version: rb.to.version } : {}) } : {}),
    message: r.message,
    ...receiptOf(r.delivery),
  };
}

/** Screen 6's data from a finished apply. */
export function toApplyOutcome(plan: InstallPlan, delivery: ReceiptDelivery): ApplyOutcome {
  return { slot: plan.target, version: plan.update.target.version, attempts: plan.bootloader.attempts, ...receiptOf(delivery) };
}

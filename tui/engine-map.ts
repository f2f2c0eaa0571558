/**
 * Pure mapping from the device engine's data (config, state, boot state, planner
 * verdicts) to what the screens show. No I/O: tui/engine.ts gathers, this translates.
 */
import type { InstallPlan, PlanInputs, UpdateCandidate } from '../src/device/plan.js';
import { planInstall } from '../src/device/plan.js';
import type { ReceiptDelivery } from '../src/device/receipts.js';
import type { DeviceState } from '../src/device/state.js';
import type { UpdateManifest } from '../src/trust/types.js';
import type { DeviceStatus } from '../src/device/status.js';
import { SLOT_NAMES } from '../src/device/types.js';
import type { ApplyOutcome, DeviceInfo, PlanInfo, UpdateEntry } from './engine-types.js';

/** "CN=ferry signer 2026,O=ACME" → "ferry signer 2026"; other forms pass through. */
export function signerName(subject: string): string {
  const m = /(?:^|[,/]\s*)CN=([^,/]+)/.exec(subject);
  return (m?.[1] ?? subject).trim();
}

/** Screen 1's data from `ferry device status`'s report. */
export function toDeviceInfo(st: DeviceStatus): DeviceInfo {
  const running = st.slots[st.booted];
  const last = st.lastResult;
  const boot = st.bootloader.state;
  return {
    deviceId: st.deviceId,
    compatible: st.compatible,
    bootedSlot: st.booted,
    slots: SLOT_NAMES.map((name) => {
      const r = st.slots[name];
      return {
        name,
        status: r.status,
        booted: name === st.booted,
        ...(r.version !== undefined ? { version: r.version } : {}),
        ...(r.counter !== undefined ? { counter: r.counter } : {}),
        ...(r.imageDigest !== undefined ? { digest: r.imageDigest } : {}),
        ...(r.installedAt !== undefined ? { installedAt: r.installedAt } : {}),
        ...(r.describe !== undefined ? { describe: r.describe } : {}),
        ...(boot ? { bootGood: boot.slots[name].good, attemptsLeft: boot.slots[name].attemptsLeft } : {}),
      };
    }),
    bootOrder: boot?.order ?? [],
    bootloader: boot ? st.bootloader.describe : `${st.bootloader.describe}: unreadable (${st.bootloader.error ?? '?'})`,
    clock: st.clock,
    ...(st.trustedTime !== undefined ? { trustedTime: st.trustedTime } : {}),
    ...(running.target !== undefined && st.counterFloor[running.target] !== undefined ? { counterFloor: st.counterFloor[running.target] } : {}),
    ...(last
      ? { lastResult: { action: last.action, ok: last.result === 'success' || last.result === 'nothing-to-do', at: last.at, ...(last.updateId ? { version: last.updateId } : {}), ...(last.code ? { code: last.code } : {}), ...(last.message ? { message: last.message } : {}) } }
      : {}),
    pendingReceipts: st.pendingReceipts,
  };
}

/** One row of screen 2: the candidate and, through the same planner `ferry device apply` uses, why it cannot be installed. */
export function toUpdateEntry(c: UpdateCandidate, inputs: Omit<PlanInputs, 'requestedId'>, unverified?: UpdateManifest): UpdateEntry {
  // A refused update's own claims (unverified) are shown for orientation only; its row is always ✗.
  const m = c.manifest ?? (c.refusal && unverified?.id === c.id ? unverified : undefined);
  const base: UpdateEntry = { id: c.id, target: m?.target.name ?? '?', version: m?.target.version ?? c.id };
  if (m) {
    Object.assign(base, { counter: m.target.counter, sizeBytes: m.image.payloadBytes, created: m.created, expires: m.expires, ...(m.notes !== undefined ? { notes: m.notes } : {}) });
  }
  if (c.signers && c.signers.length > 0) base.signer = c.signers.map(signerName).join(', ');
  if (c.refusal) return { ...base, problem: { code: c.refusal.code, message: c.refusal.message } };
  const verdict = planInstall({ ...inputs, candidates: [c], requestedId: c.id });
  if (verdict.kind === 'install') return base;
  const mine = verdict.skipped.find((s) => s.id === c.id);
  return { ...base, problem: mine ? { code: mine.code, message: mine.message } : { code: verdict.code, message: verdict.message } };
}

/** Screen 4's data from the planner's InstallPlan. */
export function toPlanInfo(plan: InstallPlan, state: DeviceState, slotDescribe: string): PlanInfo {
  const u = plan.update;
  const running = state.slots[plan.booted].version;
  return {
    id: u.id,
    ...(running !== undefined ? { fromVersion: running } : {}),
    toVersion: u.target.version,
    targetSlot: plan.target,
    slotDescribe,
    bytesToWrite: plan.payloadBytes,
    ...(u.notes !== undefined ? { notes: u.notes } : {}),
    signers: plan.signers.map(signerName),
  };
}

/** Screen 6's data from a finished apply. */
export function toApplyOutcome(plan: InstallPlan, delivery: ReceiptDelivery): ApplyOutcome {
  const written = delivery.written[delivery.written.length - 1];
  const out: ApplyOutcome = { slot: plan.target, version: plan.update.target.version };
  if (written !== undefined && delivery.kept === 0) out.receiptPath = written;
  else out.receiptProblem = delivery.error ?? `${delivery.kept} receipt(s) kept on the device`;
  return out;
}

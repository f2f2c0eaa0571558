/**
 * `ferry device boot-check`, run once per boot (samples/systemd/ferry-boot-check.service).
 * A pending slot that booted is health-checked: pass → commit (mark good in the
 * bootloader and the state, raise the anti-rollback floor); fail → mark it bad,
 * make the other (good) slot primary, record why, reboot. If the bootloader has
 * already fallen back (a pending slot that is not the booted one), the failed
 * update is recorded as bad. A committed slot gets its try counter reset, as
 * rauc-mark-good does on every boot.
 */
import { FerryError } from '../errors.js';
import { runHealthCheck, runRebootCommand } from './commands.js';
import { type DeviceDeps, type DeviceOptions, lockDevice, openDevice, type DeviceContext } from './context.js';
import { settleDeadApply } from './interrupted.js';
import { deliverReceipts, type Receipt, recordEvent, type ReceiptDelivery, RECEIPT_SCHEMA, slotSummary, utcStamp } from './receipts.js';
import { type DeviceState, commitRelease, loadState, saveState } from './state.js';
import { type BootState, bootsNext, otherSlot, type SlotName } from './types.js';

/** Options of boot-check. */
export interface BootCheckOptions extends DeviceOptions {
  /** Do not run rebootCommand after a failed check (tests, manual runs). */
  noReboot?: boolean;
  /** A writable stick to flush receipts to (usually none at boot). */
  mediaRoot?: string;
  clock?: () => Date;
}

/** What boot-check found and did. */
export interface BootCheckResult {
  booted: SlotName;
  outcome: 'committed' | 'rolled-back' | 'fell-back' | 'already-good' | 'adopted' | 'awaiting-reboot' | 'unhealthy-no-fallback' | 'running-bad-slot';
  message: string;
  rebooted: boolean;
  receipt?: Receipt;
  delivery?: ReceiptDelivery;
}

type Outcome = Pick<BootCheckResult, 'outcome' | 'message'> & { result: Receipt['result']; code?: string; reboot?: boolean };

/** Run the boot check: commit, roll back or record a fallback. */
export async function bootCheck(opts: BootCheckOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<BootCheckResult> {
  const dev = await openDevice(opts, deps);
  const clock = opts.clock ?? (() => new Date());
  const lock = await lockDevice(dev, 'boot-check');
  try {
    const state = await loadState(dev.config.stateDir);
    await settleDeadApply(dev, state, clock());
    const started = clock();
    const before = slotSummary(state);
    // the try counters as the bootloader left them at boot, before a commit or rollback resets them
    const boot = await dev.bootloader.getState().catch(() => undefined);
    const out = await decide(dev, state, clock);
    const at = clock().toISOString();
    state.lastResult = { action: 'boot-check', result: out.result, at, message: out.message, ...(out.code ? { code: out.code } : {}) };
    const receipt = out.outcome === 'already-good' || out.outcome === 'awaiting-reboot' ? undefined : bootCheckReceipt(dev, state, { before, boot }, out, started, clock());
    await deliverReceipts(undefined, state, receipt);
    if (!receipt) recordEvent(state, { at, action: 'boot-check', result: out.result, slot: dev.booted, ...(state.slots[dev.booted].version ? { version: state.slots[dev.booted].version } : {}), message: out.message });
    // saved before the stick is written: a stick that stalls the receipt write cannot keep the verdict out of the state
    await saveState(dev.config.stateDir, state);
    const delivery = await deliverReceipts(opts.mediaRoot, state);
    await saveState(dev.config.stateDir, state);
    let rebooted = false;
    if (out.reboot && !opts.noReboot) {
      await runRebootCommand(dev.config.rebootCommand);
      rebooted = true;
    }
    return { booted: dev.booted, outcome: out.outcome, message: out.message, rebooted, ...(receipt ? { receipt } : {}), delivery };
  } finally {
    await lock.release();
  }
}

async function decide(dev: DeviceContext, state: DeviceState, clock: () => Date): Promise<Outcome> {
  const booted = dev.booted;
  const other = otherSlot(booted);
  const rec = state.slots[booted];
  if (rec.status !== 'pending' && state.slots[other].status === 'pending' && (await awaitingReboot(dev, other))) {
    // Run again after an apply, before the reboot: the bootloader has not tried the new slot yet.
    return { outcome: 'awaiting-reboot', result: 'success', message: `slot ${other} (${state.slots[other].version ?? '?'}) is installed and boots next; reboot to try it` };
  }
  switch (rec.status) {
    case 'pending':
      return checkPending(dev, state, clock);
    case 'good':
      if (state.slots[other].status === 'pending') return recordFallback(dev, state, clock);
      await resetTries(dev, booted);
      return { outcome: 'already-good', result: 'success', message: `slot ${booted} is committed (${rec.version ?? 'unknown version'}); nothing to do${afterRollback(state, booted)}` };
    case 'empty':
      // A factory-installed slot that ferry never wrote: it booted, so it becomes the known-good one.
      await dev.bootloader.markGood(booted);
      state.slots[booted] = { status: 'good', committedAt: clock().toISOString() };
      if (state.slots[other].status === 'pending') return recordFallback(dev, state, clock);
      return { outcome: 'adopted', result: 'success', message: `slot ${booted} was never installed by ferry; adopted as good` };
    case 'bad':
      return { outcome: 'running-bad-slot', result: 'failure', code: 'BOOTLOADER_ERROR', message: `slot ${booted} is running but marked bad; check the bootloader configuration, then run \`ferry device mark-good\` if it is healthy` };
  }
}

/** "; running after a rollback by operator at …" when the operator's last rollback led here. */
function afterRollback(state: DeviceState, booted: SlotName): string {
  const rb = state.rollback;
  if (!rb || rb.to.slot !== booted || state.slots[rb.from.slot].version !== rb.from.version) return '';
  return `; running after a rollback by operator at ${rb.at} from ${rb.from.version ?? 'unknown version'} (slot ${rb.from.slot})`;
}

/** True when the bootloader will boot `slot` next: first in order, good, tries left (nothing has fallen back). */
async function awaitingReboot(dev: DeviceContext, slot: SlotName): Promise<boolean> {
  return bootsNext(await dev.bootloader.getState(), slot);
}

async function resetTries(dev: DeviceContext, slot: SlotName): Promise<void> {
  const bs = await dev.bootloader.getState();
  if (bs.order[0] !== slot || !bs.slots[slot].good || bs.slots[slot].attemptsLeft < dev.config.bootloader.attempts) await dev.bootloader.markGood(slot);
}

/** The booted slot is on trial: health check, then commit or roll back. */
async function checkPending(dev: DeviceContext, state: DeviceState, clock: () => Date): Promise<Outcome> {
  const booted = dev.booted;
  const other = otherSlot(booted);
  const rec = state.slots[booted];
  const health = await runHealthCheck(dev.config.healthCheck, booted);
  if (health.ok) {
    await dev.bootloader.markGood(booted);
    state.slots[booted] = { ...rec, status: 'good', committedAt: clock().toISOString() };
    delete state.slots[booted].lastError;
    // Anti-rollback: the floor rises at commit, not at apply, so a failed update never blocks reinstalling the release the device fell back to.
    commitRelease(state, rec);
    return { outcome: 'committed', result: 'success', message: `slot ${booted} (${rec.version ?? '?'}) passed its health check and is committed` };
  }
  const why = `health check failed: ${health.reason}`;
  if (state.slots[other].status !== 'good') {
    // Never reboot into nothing: without a good fallback the running slot stays primary.
    state.slots[booted] = { ...rec, lastError: { code: 'HEALTH_CHECK_FAILED', message: why, at: clock().toISOString() } };
    return { outcome: 'unhealthy-no-fallback', result: 'failure', code: 'HEALTH_CHECK_FAILED', message: `slot ${booted}: ${why}; slot ${other} is not good, so no rollback was done` };
  }
  await dev.bootloader.markBad(booted);
  await dev.bootloader.markGood(other);
  state.slots[booted] = { ...rec, status: 'bad', lastError: { code: 'HEALTH_CHECK_FAILED', message: why, at: clock().toISOString() } };
  return { outcome: 'rolled-back', result: 'rolled-back', code: 'HEALTH_CHECK_FAILED', reboot: true, message: `slot ${booted} (${rec.version ?? '?'}): ${why}; rolling back to slot ${other} (${state.slots[other].version ?? '?'})` };
}

/** The bootloader booted the old slot although the other was pending: its attempts ran out. */
async function recordFallback(dev: DeviceContext, state: DeviceState, clock: () => Date): Promise<Outcome> {
  const booted = dev.booted;
  const failed = otherSlot(booted);
  const rec = state.slots[failed];
  const bs = await dev.bootloader.getState();
  const why = bs.slots[failed].attemptsLeft === 0 ? `it did not pass a boot check within ${dev.config.bootloader.attempts} boot attempts` : 'the bootloader booted the fallback slot';
  await dev.bootloader.markBad(failed);
  await dev.bootloader.markGood(booted);
  state.slots[failed] = { ...rec, status: 'bad', lastError: { code: 'HEALTH_CHECK_FAILED', message: `fell back to slot ${booted}: ${why}`, at: clock().toISOString() } };
  return { outcome: 'fell-back', result: 'rolled-back', code: 'HEALTH_CHECK_FAILED', message: `slot ${failed} (${rec.version ?? '?'}) failed: ${why}; running slot ${booted}` };
}

function bootCheckReceipt(dev: DeviceContext, state: DeviceState, at: { before: Receipt['before']; boot: BootState | undefined }, out: Outcome, started: Date, end: Date): Receipt {
  const subject = out.outcome === 'fell-back' ? otherSlot(dev.booted) : dev.booted;
  const rec = state.slots[subject];
  const before = at.before;
  const allowed = dev.config.bootloader.attempts;
  const left = at.boot?.slots[subject].attemptsLeft;
  const onTrial = before[subject].status === 'pending';
  return {
    schema: RECEIPT_SCHEMA,
    action: 'boot-check',
    stamp: utcStamp(end),
    deviceId: dev.config.deviceId,
    compatible: dev.config.compatible,
    result: out.result,
    bootedSlot: dev.booted,
    before,
    after: slotSummary(state),
    targetSlot: subject,
    ...(rec.updateId ? { updateId: rec.updateId } : {}),
    ...(rec.version ? { version: rec.version } : {}),
    ...(rec.counter !== undefined ? { counter: rec.counter } : {}),
    ...(rec.imageDigest ? { imageDigest: rec.imageDigest } : {}),
    ...(out.code ? { error: { code: out.code, message: out.message } } : {}),
    message: out.message,
    ...(out.result === 'rolled-back' ? { rollbackReason: rec.lastError?.message ?? out.message } : {}),
    ...(onTrial && left !== undefined ? { bootAttempts: { used: Math.max(0, Math.min(allowed, allowed - left)), allowed } } : {}),
    startedAt: started.toISOString(),
    finishedAt: end.toISOString(),
    durationMs: end.getTime() - started.getTime(),
  };
}

/** Turn a boot-check outcome into the error the CLI reports (exit 1), or undefined for success. */
export function bootCheckError(r: BootCheckResult): FerryError | undefined {
  if (r.outcome === 'rolled-back' || r.outcome === 'unhealthy-no-fallback') return new FerryError('HEALTH_CHECK_FAILED', r.message);
  if (r.outcome === 'running-bad-slot') return new FerryError('BOOTLOADER_ERROR', r.message);
  return undefined;
}

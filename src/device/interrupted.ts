/**
 * "Any failure leaves a record": an apply that dies where no code of its own can run
 * (power cut, out of memory, SIGKILL) leaves `state.inProgress`, written before the first
 * byte of the slot. The next device command, once it holds the lock (so that apply is
 * certainly dead), turns it into the record the apply would have written: the target
 * stays bad with the reason, `lastResult` says INTERRUPTED, and a receipt waits for the
 * next writable stick.
 */
import type { DeviceContext } from './context.js';
import { RECEIPT_SCHEMA, type Receipt, slotSummary, utcStamp } from './receipts.js';
import { type DeviceState, type InProgress, saveState } from './state.js';
import { bootsNext } from './types.js';

/** Who the device is, for the receipt. */
export interface DeviceIdentity {
  deviceId: string;
  compatible: string;
}

/**
 * Record a dead apply left in `state` (true when the state changed and must be saved).
 * `switched(slot)`: the bootloader already tries `slot` first, i.e. the apply got past its
 * last step but the final state write; then the install stands and is recorded as a success.
 */
export function settleInterrupted(state: DeviceState, who: DeviceIdentity, now: Date, switched: (p: InProgress) => boolean): boolean {
  const p = state.inProgress;
  if (p === undefined) return false;
  delete state.inProgress;
  const at = now.toISOString();
  const stands = p.phase === 'switching' && state.slots[p.targetSlot].status === 'pending' && switched(p);
  const message = stands
    ? `the apply of ${p.updateId} was cut short after the bootloader switch: the install stands and boots next`
    : p.phase === 'switching'
      ? `the apply of ${p.updateId} was cut short before the bootloader switch: slot ${p.targetSlot} holds it but will not boot it; run the apply again`
      : `the apply of ${p.updateId} started at ${p.startedAt} was cut short (power cut, out of memory or killed); slot ${p.targetSlot} stays marked bad; run the apply again`;
  if (p.phase === 'writing') state.slots[p.targetSlot] = { status: 'bad', lastError: { code: 'INTERRUPTED', message, at } };
  state.lastResult = stands ? { action: 'apply', result: 'success', at, updateId: p.updateId, message } : { action: 'apply', result: 'failure', at, updateId: p.updateId, code: 'INTERRUPTED', message };
  const receipt: Receipt = {
    schema: RECEIPT_SCHEMA,
    action: 'apply',
    stamp: utcStamp(now),
    deviceId: who.deviceId,
    compatible: who.compatible,
    result: stands ? 'success' : 'failure',
    bootedSlot: p.bootedSlot,
    before: slotSummary(state),
    after: slotSummary(state),
    targetSlot: p.targetSlot,
    updateId: p.updateId,
    version: p.version,
    counter: p.counter,
    imageDigest: p.imageDigest,
    ...(stands ? {} : { error: { code: 'INTERRUPTED', message } }),
    startedAt: p.startedAt,
    finishedAt: at,
    durationMs: Math.max(0, now.getTime() - Date.parse(p.startedAt)),
  };
  state.pendingReceipts.push(receipt);
  return true;
}

/** Call with the device lock held, right after loading the state: records a dead apply and saves. */
export async function settleDeadApply(dev: DeviceContext, state: DeviceState, now: Date): Promise<void> {
  if (!state.inProgress) return;
  const boot = await dev.bootloader.getState().catch(() => undefined);
  // running from the target proves the switch too (it was marked bad before its first byte,
  // so nothing but the switch boots it), also once its trial boot has used up its tries
  const switched = (p: InProgress) => dev.booted === p.targetSlot || (boot !== undefined && bootsNext(boot, p.targetSlot));
  if (settleInterrupted(state, dev.config, now, switched)) await saveState(dev.config.stateDir, state);
}

/**
 * The device applier: one short pipeline of named steps, in RAUC's safe order
 * (do_install_bundle): lock → load → verify → plan → mark target bad → write →
 * record → switch the bootloader LAST → receipt. The booted slot is never written;
 * until the bootloader switch the device can be cancelled or lose power and still
 * boot exactly what it booted before (the target then stays marked bad).
 */
import { FerryError, toFerryError } from '../errors.js';
import { noProgress, type ProgressFn } from '../progress.js';
import { type DeviceContext, type DeviceDeps, type DeviceOptions, type MediaVerifyResult, mediaVerifyRequest, lockDevice, openDevice, planInputs } from './context.js';
import { faultingProgress, faultPoint } from './fault.js';
import { type InstallPlan, planInstall, type SkipReason } from './plan.js';
import { deliverReceipts, type Receipt, type ReceiptDelivery, RECEIPT_SCHEMA, slotSummary, utcStamp } from './receipts.js';
import { settleDeadApply } from './interrupted.js';
import { keepRevocation } from './revocation.js';
import { type DeviceState, loadState, raiseTrustedTime, saveState } from './state.js';
import type { LayerOpener, Slot, SlotWriteResult } from './types.js';
import { blobOpener, layerOpener, openPlannedImage, type PlannedImage } from './apply-image.js';
import { planReuse } from './reuse.js';
import type { IndexSource } from './files/index-reader.js';
import { removeIndexFile, slotIndexPath, writeIndexFile, writeSlotLayers } from './files/index-store.js';

/** What `ferry device apply` asks of the engine. */
export interface ApplyOptions extends DeviceOptions {
  mediaRoot: string;
  updateId?: string;
  progress?: ProgressFn;
  signal?: AbortSignal;
  /** Shown the plan before the first write; resolve false to stop (CANCELLED, nothing changed). */
  confirm?: (plan: InstallPlan, skipped: SkipReason[]) => Promise<boolean>;
  clock?: () => Date;
  /** Overrides policy.verifyBeforeWrite for this run. */
  verifyBeforeWrite?: boolean;
}

/** A successful apply. */
export interface ApplyResult {
  plan: InstallPlan;
  skipped: SkipReason[];
  bytesWritten: number;
  receipt: Receipt;
  delivery: ReceiptDelivery;
}

/** One apply in progress: the device, its state, and how the receipt will read. */
interface Run {
  dev: DeviceContext;
  state: DeviceState;
  opts: ApplyOptions;
  deps: DeviceDeps;
  clock: () => Date;
  started: Date;
  before: Receipt['before'];
  progress: ProgressFn;
  /** Set once the mark-bad step starts: only from then on may a failure record the target as bad. */
  markedBad: boolean;
  /** Set once the bootloader points at the target: from then on the install stands. */
  switched: boolean;
  /** The file index being written while the slot syncs (SlotWriteRequest.onExtracted). */
  indexWrite?: Promise<void>;
}

/** Apply the best (or the requested) verified update from the media to the inactive slot. */
export async function applyUpdate(opts: ApplyOptions, deps: DeviceDeps): Promise<ApplyResult> {
  const dev = await openDevice(opts, deps);
  const lock = await lockDevice(dev, 'apply');
  try {
    const state = await loadState(dev.config.stateDir);
    const clock = opts.clock ?? (() => new Date());
    await settleDeadApply(dev, state, clock());
    const run: Run = { dev, state, opts, deps, clock, started: clock(), before: slotSummary(state), progress: opts.progress ?? noProgress, markedBad: false, switched: false };
    let verified: MediaVerifyResult;
    try {
      verified = await verifyMedia(run);
      await keepRevocation(dev, state, verified);
    } catch (e) {
      await recordFailure(run, undefined, e); // a stick refused as a whole (UNSAFE_MEDIA, LIMIT_EXCEEDED, …) is recorded too
      throw e;
    }
    const { plan, skipped } = await choosePlan(run, verified);
    const slot = dev.slots[plan.target];
    let reuseIndex: IndexSource | undefined;
    try {
      const image = await openPlannedImage(run.opts.mediaRoot, run.dev.config.policy.legacyMedia, plan);
      const { mode, reuse } = await planReuse({ stateDir: dev.config.stateDir, state, target: plan.target, slot, layout: image.layout, image: image.image, fileIndex: plan.update.image.fileIndex, hashAll: dev.config.policy.verifySlotBeforeReuse });
      plan.write = mode;
      if (reuse) {
        image.reuse = reuse;
        reuseIndex = reuse.index;
      }
      await confirmPlan(run, plan, skipped, image);
      await markTargetBad(run, plan);
      const written = await writeSlot(run, plan, slot, image);
      const bytesWritten = written.bytesWritten;
      await recordInstall(run, plan, verified, written, image.image.config.rootfs.diff_ids);
      await switchBootloader(run, plan);
      const receipt = makeReceipt(run, 'success', plan, { bytesWritten, skipped });
      const delivery = await finish(run, receipt);
      return { plan, skipped, bytesWritten, receipt, delivery };
    } catch (e) {
      await recordFailure(run, plan, e);
      throw e;
    } finally {
      await reuseIndex?.dispose?.();
    }
  } finally {
    await lock.release();
  }
}

/** Step verify: list the updates on the stick and verify signature, chain and policy of each. */
async function verifyMedia(run: Run): Promise<MediaVerifyResult> {
  const { dev, state } = run;
  run.progress({ step: 'verify', bytesDone: 0, bytesTotal: 0, detail: 'signatures' });
  return run.deps.verifyMedia(mediaVerifyRequest(dev, state, run.opts.mediaRoot, run.clock()));
}

/** Step plan: decide everything before the first write; nothing applicable ends here with a receipt. */
async function choosePlan(run: Run, verified: MediaVerifyResult): Promise<{ plan: InstallPlan; skipped: SkipReason[] }> {
  const { dev, state } = run;
  const result = planInstall({ ...(await planInputs(dev, state, verified, run.clock())), requestedId: run.opts.updateId });
  if (result.kind === 'install') return result;
  const err = new FerryError(result.code, result.message, { details: { skipped: result.skipped } });
  state.lastResult = { action: 'apply', result: 'nothing-to-do', at: run.clock().toISOString(), code: result.code, message: result.message };
  await finish(run, makeReceipt(run, 'nothing-to-do', undefined, { skipped: result.skipped, error: err }));
  throw err;
}

async function confirmPlan(run: Run, plan: InstallPlan, skipped: SkipReason[], image: PlannedImage): Promise<void> {
  if (run.opts.confirm && !(await run.opts.confirm(plan, skipped))) {
    throw new FerryError('CANCELLED', 'cancelled before anything was written; the device is unchanged');
  }
  // With a chunk index the write is the single pass over the stick and no unverified byte is
  // ever parsed; a tampered chunk stops the write at that chunk (the target stays marked bad,
  // nothing is activated). policy.verifyBeforeWrite adds a full read first, so a damaged stick
  // leaves even the inactive slot as it was. Legacy media are always pre-verified.
  if (image.chunks === undefined || (run.opts.verifyBeforeWrite ?? run.dev.config.policy.verifyBeforeWrite)) await preverifyBlobs(run, plan, image);
  // A missing blob, or a FIFO, device or link in its place, is refused while the target is still untouched.
  await image.layout.requireBlobs([image.image.configDescriptor, ...image.image.manifest.layers], plan.update.id);
}

async function preverifyBlobs(run: Run, plan: InstallPlan, { layout, image }: PlannedImage): Promise<void> {
  const blobs = [image.configDescriptor, ...image.manifest.layers];
  const total = blobs.reduce((n, d) => n + d.size, 0);
  let done = 0;
  for (const d of blobs) {
    throwIfCancelled(run);
    done += await layout.verifyBlob(d, `blob ${d.digest} of ${plan.update.id}`);
    run.progress({ step: 'verify', bytesDone: done, bytesTotal: total, detail: d.digest });
  }
}

function throwIfCancelled(run: Run): void {
  if (run.opts.signal?.aborted) throw new FerryError('CANCELLED', 'cancelled; the running slot is untouched and the inactive slot stays marked bad');
}

/** Step mark-bad: the target must never boot half-written, so it is marked bad first, in the bootloader and the state. */
async function markTargetBad(run: Run, plan: InstallPlan): Promise<void> {
  throwIfCancelled(run);
  run.markedBad = true;
  await run.dev.bootloader.markBad(plan.target).catch((e: unknown) => {
    throw toFerryError(e).withContext(`slot ${plan.target}: marking bad before writing`);
  });
  const u = plan.update;
  run.state.slots[plan.target] = { status: 'bad', lastError: { code: 'SLOT_BUSY', message: `being written with ${u.id}`, at: run.clock().toISOString() } };
  run.state.inProgress = {
    action: 'apply',
    phase: 'writing',
    pid: process.pid,
    startedAt: run.started.toISOString(),
    targetSlot: plan.target,
    bootedSlot: plan.booted,
    updateId: u.id,
    version: u.target.version,
    counter: u.target.counter,
    imageDigest: u.image.manifest.digest,
  };
  await saveState(run.dev.config.stateDir, run.state);
  // The slot's old file index no longer describes it from here on.
  await removeIndexFile(slotIndexPath(run.dev.config.stateDir, plan.target));
  faultPoint('after-mark-bad');
}

/** Step write: stream the verified image into the slot (digests checked while streaming). */
async function writeSlot(run: Run, plan: InstallPlan, slot: Slot, planned: PlannedImage): Promise<SlotWriteResult> {
  throwIfCancelled(run);
  const { layout, image } = planned;
  const u = plan.update.image;
  const limits = { reserveBytes: run.dev.config.policy.reserveBytes, ...(u.unpackedBytes !== undefined ? { unpackedBytes: u.unpackedBytes } : {}) };
  const res = await slot
    .write({
      layout, image, ref: plan.update.id, progress: faultingProgress(run.progress), signal: run.opts.signal, openBlob: blobOpener(planned), ...openLayerOf(planned), limits, ...(planned.reuse ? { reuse: planned.reuse } : {}),
      onExtracted: (r) => {
        run.indexWrite = writeSlotIndex(run, plan, r, image.config.rootfs.diff_ids);
        run.indexWrite.catch(() => undefined); // awaited by recordInstall, or dropped with the failed write below
      },
    })
    .catch(async (e: unknown) => {
      // a failed slot's index must not outlive the write (the state never names its image anyway)
      if (run.indexWrite) await run.indexWrite.catch(() => undefined).then(() => removeIndexFile(slotIndexPath(run.dev.config.stateDir, plan.target)));
      throw toFerryError(e).withContext(`slot ${plan.target} (${slot.describe()})`);
    });
  throwIfCancelled(run);
  return res;
}

/** The worker-decompressed layer path where the stick has a chunk index (exactOptionalPropertyTypes: absent, never undefined). */
function openLayerOf(planned: PlannedImage): { openLayer?: LayerOpener } {
  const open = layerOpener(planned);
  return open ? { openLayer: open } : {};
}

/** Step record: the target now holds the update, pending its first good boot; trust state only rises. */
async function recordInstall(run: Run, plan: InstallPlan, verified: MediaVerifyResult, written: SlotWriteResult, diffIds: string[]): Promise<void> {
  faultPoint('before-record');
  const { state } = run;
  // The file index (after the layers it was made from) goes down first, then the record that names the image it describes.
  // Dir and block slots started it while their final sync ran (writeSlot).
  const u = plan.update;
  await (run.indexWrite ?? writeSlotIndex(run, plan, written, diffIds));
  state.slots[plan.target] = {
    status: 'pending',
    updateId: u.id,
    target: u.target.name,
    version: u.target.version,
    counter: u.target.counter,
    imageDigest: u.image.manifest.digest,
    installedAt: run.clock().toISOString(),
  };
  if (verified.newTrustedTime !== undefined) raiseTrustedTime(state, new Date(verified.newTrustedTime));
  if (state.inProgress) state.inProgress.phase = 'switching';
  run.progress({ step: 'sync', bytesDone: 1, bytesTotal: 1 });
  await saveState(run.dev.config.stateDir, state);
  faultPoint('before-bootloader');
}

/** The slot's layer list, then its file index (each atomic and durable); nothing when the write recorded no index. */
async function writeSlotIndex(run: Run, plan: InstallPlan, written: SlotWriteResult, diffIds: string[]): Promise<void> {
  if (!written.fileIndex) return;
  const file = slotIndexPath(run.dev.config.stateDir, plan.target);
  await writeSlotLayers(file, { image: plan.update.image.manifest.digest, diffIds });
  await writeIndexFile(file, written.fileIndex);
}

/** Step bootloader, LAST: the target becomes the boot-counted primary; the running slot stays the fallback. */
async function switchBootloader(run: Run, plan: InstallPlan): Promise<void> {
  throwIfCancelled(run);
  run.progress({ step: 'bootloader', bytesDone: 0, bytesTotal: 1 });
  await run.dev.bootloader.setPrimary(plan.target, plan.bootloader.attempts).catch((e: unknown) => {
    throw toFerryError(e).withContext(`slot ${plan.target}: switching the bootloader`);
  });
  run.switched = true;
  run.progress({ step: 'bootloader', bytesDone: 1, bytesTotal: 1 });
  faultPoint('after-bootloader');
}

/** After a failure or cancel between mark-bad and the switch: the target stays bad, with the reason. A stick refused before any plan (plan undefined), or an earlier stop, changed nothing (a pending install waiting for its reboot stays pending). */
async function recordFailure(run: Run, plan: InstallPlan | undefined, e: unknown): Promise<void> {
  const err = toFerryError(e);
  const at = run.clock().toISOString();
  if (plan && run.markedBad && !run.switched) run.state.slots[plan.target] = { status: 'bad', lastError: { code: err.code, message: err.message, at } };
  const result = err.code === 'CANCELLED' ? 'cancelled' : 'failure';
  run.state.lastResult = { action: 'apply', result, at, ...(plan ? { updateId: plan.update.id } : {}), code: err.code, message: err.message };
  await finish(run, makeReceipt(run, result, plan, { error: err })).catch(() => undefined);
}

/** Step receipt: persist the state with the receipt queued, then flush receipts to the stick (and persist what was delivered). */
async function finish(run: Run, receipt: Receipt): Promise<ReceiptDelivery> {
  delete run.state.inProgress;
  if (receipt.result === 'success') {
    run.state.lastResult = { action: 'apply', result: 'success', at: receipt.finishedAt, updateId: receipt.updateId };
  }
  // The record stands before the stick is touched: a stick that stalls the receipt write for
  // ever (a hostile USB device, a pulled stick) cannot keep this apply's outcome out of the state.
  await deliverReceipts(undefined, run.state, receipt);
  await saveState(run.dev.config.stateDir, run.state);
  run.progress({ step: 'receipt', bytesDone: 0, bytesTotal: 1 });
  const delivery = await deliverReceipts(run.opts.mediaRoot, run.state);
  await saveState(run.dev.config.stateDir, run.state);
  run.progress({ step: 'receipt', bytesDone: 1, bytesTotal: 1 });
  return delivery;
}

function makeReceipt(run: Run, result: Receipt['result'], plan: InstallPlan | undefined, extra: { bytesWritten?: number; skipped?: SkipReason[]; error?: unknown }): Receipt {
  const end = run.clock();
  const err = extra.error === undefined ? undefined : toFerryError(extra.error);
  const u = plan?.update;
  return {
    schema: RECEIPT_SCHEMA,
    action: 'apply',
    stamp: utcStamp(end),
    deviceId: run.dev.config.deviceId,
    compatible: run.dev.config.compatible,
    result,
    bootedSlot: run.dev.booted,
    before: run.before,
    after: slotSummary(run.state),
    ...(plan ? { targetSlot: plan.target } : {}),
    ...(u ? { updateId: u.id, version: u.target.version, counter: u.target.counter, imageDigest: u.image.manifest.digest } : {}),
    ...(err ? { error: { code: err.code, message: err.message } } : {}),
    ...(extra.skipped && extra.skipped.length > 0 ? { skipped: extra.skipped } : {}),
    startedAt: run.started.toISOString(),
    finishedAt: end.toISOString(),
    durationMs: end.getTime() - run.started.getTime(),
    ...(extra.bytesWritten !== undefined ? { bytesWritten: extra.bytesWritten } : {}),
  };
}

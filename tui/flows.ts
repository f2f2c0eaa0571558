/**
 * The long-running flows behind screens 3 and 5: verify and apply. They call the engine,
 * turn its progress events into state, and never throw: every failure ends up as a
 * UiError on the screen (code + explanation + next step).
 */
import { toFerryError } from '../src/errors.js';
import type { ProgressEvent } from '../src/progress.js';
import type { TuiEngine, UpdateEntry } from './engine-types.js';
import { finishMeter, startMeter, updateMeter } from './meter.js';
import { APPLY_STAGES, type AppState, type ApplyState, stageOf, type UiError } from './state.js';

/** What the flows need from the controller. */
export interface FlowHost {
  state: AppState;
  engine: TuiEngine;
  now(): number;
  /** Ask for a repaint; `urgent` after keys, not after progress (those are throttled). */
  changed(urgent: boolean): void;
  log(text: string): void;
}

/** Any thrown value as a UiError. */
export function uiError(e: unknown): UiError {
  if (e instanceof Error && e.name === 'AbortError') return { code: 'CANCELLED', message: 'cancelled by the technician' };
  const f = toFerryError(e);
  return { code: f.code, message: f.message };
}

/** Screen 3: signature and chain, then every blob read and hashed. */
export async function runVerify(h: FlowHost, root: string, entry: UpdateEntry, signal: AbortSignal): Promise<void> {
  h.state.verify = { entry, phase: 'signature' };
  h.changed(true);
  const v = h.state.verify;
  try {
    v.signature = await h.engine.verifySignature(root, entry.id);
    h.log(`verify ${entry.id}: signature ok (${v.signature.signers.join(', ')})`);
    v.phase = 'blobs';
    v.meter = startMeter(h.now(), entry.sizeBytes ?? 0);
    h.changed(true);
    await h.engine.verifyBlobs(root, entry.id, (e) => {
      v.meter = updateMeter(v.meter!, h.now(), e.bytesDone, e.bytesTotal > 0 ? e.bytesTotal : v.meter!.bytesTotal);
      if (e.detail !== undefined) v.detail = e.detail;
      h.changed(false);
    }, signal);
    v.meter = finishMeter(v.meter, h.now());
    v.phase = 'ok';
    h.log(`verify ${entry.id}: every blob matched its digest`);
  } catch (e) {
    if (signal.aborted) {
      v.phase = 'stopped';
      h.log(`verify ${entry.id}: stopped by the technician`);
    } else {
      v.phase = 'failed';
      v.error = uiError(e);
      h.log(`verify ${entry.id}: FAILED [${v.error.code}] ${v.error.message}`);
    }
  }
  h.changed(true);
}

/** Advance the stage list to `stage`: earlier stages are done, this one runs. */
function enterStage(a: ApplyState, stage: string): boolean {
  let idx = a.stages.findIndex((s) => s.step === stage);
  if (idx < 0) {
    // An engine step we have no slot for: show it before the bootloader switch unless that began.
    const boot = a.stages.findIndex((s) => s.step === 'bootloader');
    idx = boot >= 0 && !a.switched ? boot : a.stages.length;
    a.stages.splice(idx, 0, { step: stage, state: 'waiting' });
  }
  if (a.stages[idx]!.state === 'running') return false;
  a.stages.forEach((s, i) => {
    if (i < idx && s.state !== 'failed') s.state = 'done';
  });
  a.stages[idx]!.state = 'running';
  return true;
}

/** Stages whose events carry payload bytes (the others count steps, not bytes). */
const BYTE_STAGES = new Set(['verify', 'write']);

/** The progress sink for an apply. */
function applyProgress(h: FlowHost, a: ApplyState, signal: AbortSignal): (e: ProgressEvent) => void {
  return (e) => {
    const stage = stageOf(e.step);
    // A failed or cancelled apply still writes its receipt: that must not tick off stages that never ran.
    if (stage === 'receipt' && (!a.switched || signal.aborted)) return;
    if (enterStage(a, stage)) h.log(`apply: ${stage}${e.step !== stage ? ` (${e.step})` : ''}`);
    if (stage === 'bootloader') a.switched = true;
    if (BYTE_STAGES.has(stage) && e.bytesTotal > 0) {
      if (!a.meter || a.meterStage !== stage || a.meter.bytesTotal !== e.bytesTotal) a.meter = startMeter(h.now(), e.bytesTotal);
      a.meterStage = stage;
      a.meter = updateMeter(a.meter, h.now(), e.bytesDone, e.bytesTotal);
    }
    if (e.detail !== undefined) a.detail = `${stage}: ${e.detail}`;
    h.changed(false);
  };
}

/** Screen 5: apply with progress; cancellable through `signal` until the bootloader switch. */
export async function runApply(h: FlowHost, root: string, signal: AbortSignal): Promise<boolean> {
  const a = h.state.apply!;
  a.stages = APPLY_STAGES.map((step) => ({ step, state: 'waiting' }));
  h.log(`apply ${a.plan.id} into slot ${a.plan.targetSlot}: started`);
  try {
    const outcome = await h.engine.apply(root, a.plan.id, applyProgress(h, a, signal), signal);
    a.stages.forEach((s) => (s.state = 'done'));
    if (a.meter) a.meter = finishMeter(a.meter, h.now());
    h.state.done = { outcome, rebooting: false };
    h.log(`apply ${a.plan.id}: installed into slot ${outcome.slot}; receipt ${outcome.receiptPath ?? 'not written: ' + (outcome.receiptProblem ?? '?')}`);
    h.changed(true);
    return true;
  } catch (e) {
    const err = uiError(e);
    const running = a.stages.find((s) => s.state === 'running');
    const cancelled = signal.aborted || err.code === 'CANCELLED';
    if (running) running.state = cancelled ? 'stopped' : 'failed';
    if (cancelled) {
      a.cancelled = true;
      a.cancelling = false;
      h.log(`apply ${a.plan.id}: cancelled; running slot untouched`);
    } else h.log(`apply ${a.plan.id}: FAILED [${err.code}] ${err.message}`);
    a.error = err;
    h.changed(true);
    return false;
  }
}

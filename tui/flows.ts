/**
 * The long-running flows behind screens 3 and 5: verify and apply. They call the engine,
 * turn its progress events into state, and never throw: every failure ends up as a
 * UiError on the screen (code + explanation + next step).
 */
import type { Why } from '../src/device/index.js';
import { toFerryError } from '../src/errors.js';
import type { ProgressEvent } from '../src/progress.js';
import type { TuiEngine, UpdateEntry } from './engine-types.js';
import { finishMeter, startMeter, updateMeter } from './meter.js';
import { APPLY_STAGES, type AppState, type ApplyState, stageOf, type UiError } from './state.js';
import { explainError, fmt, type Strings } from './strings.js';
import { receiptWaitText } from './views/common.js';

/** What the flows need from the controller. */
export interface FlowHost {
  state: AppState;
  engine: TuiEngine;
  now(): number;
  /** Ask for a repaint; `urgent` after keys, not after progress (those are throttled). */
  changed(urgent: boolean): void;
  log(text: string): void;
  /** The catalogue of the chosen language. */
  readonly strings: Strings;
}

/** Any thrown value as a UiError (with the engine's reason as data when it gave one). */
export function uiError(e: unknown, s: Strings): UiError {
  if (e instanceof Error && e.name === 'AbortError') return { code: 'CANCELLED', message: s.engine.msgCancelled };
  const f = toFerryError(e);
  const w = f.details.why as Why | undefined;
  return { code: f.code, message: f.message, ...(w && typeof w.key === 'string' ? { why: w } : {}) };
}

/** The log line of a failure: what failed, the code, what it means, and the engine's detail. */
export function failedLine(s: Strings, subject: string, err: UiError): string {
  return fmt(s.engine.log_failed, { subject, code: err.code, what: explainError(s, err.code).what, detail: err.message });
}

/** Screen 3: signature and chain, then every blob read and hashed. */
export async function runVerify(h: FlowHost, root: string, entry: UpdateEntry, signal: AbortSignal): Promise<void> {
  h.state.verify = { entry, phase: 'signature' };
  h.changed(true);
  const v = h.state.verify;
  const e = h.strings.engine;
  try {
    v.signature = await h.engine.verifySignature(root, entry.id);
    h.log(fmt(e.log_signatureOk, { id: entry.id, signers: v.signature.signers.join(', ') }));
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
    h.log(fmt(e.log_blobsOk, { id: entry.id }));
  } catch (x) {
    if (signal.aborted) {
      v.phase = 'stopped';
      h.log(fmt(e.log_verifyStopped, { id: entry.id }));
    } else {
      v.phase = 'failed';
      v.error = uiError(x, h.strings);
      h.log(failedLine(h.strings, fmt(e.log_verify, { id: entry.id }), v.error));
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
    if (enterStage(a, stage)) {
      const name = (h.strings.ui as Record<string, string>)[`stage_${stage}`] ?? stage;
      h.log(fmt(e.step !== stage ? h.strings.engine.log_applyStep : h.strings.engine.log_applyStage, { stage: name, step: e.step }));
    }
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
  const t = h.strings.engine;
  h.log(fmt(t.log_applyStart, { id: a.plan.id, slot: a.plan.targetSlot }));
  try {
    const outcome = await h.engine.apply(root, a.plan.id, applyProgress(h, a, signal), signal);
    a.stages.forEach((s) => (s.state = 'done'));
    if (a.meter) a.meter = finishMeter(a.meter, h.now());
    h.state.done = { outcome, rebooting: false };
    const receipt = outcome.receiptPath ?? fmt(t.log_receiptNotWritten, { why: receiptWaitText(h.strings, outcome.receiptWait) });
    h.log(fmt(t.log_applyDone, { id: a.plan.id, slot: outcome.slot, receipt }));
    h.changed(true);
    return true;
  } catch (e) {
    const err = uiError(e, h.strings);
    const running = a.stages.find((s) => s.state === 'running');
    const cancelled = signal.aborted || err.code === 'CANCELLED';
    if (running) running.state = cancelled ? 'stopped' : 'failed';
    if (cancelled) {
      a.cancelled = true;
      a.cancelling = false;
      h.log(fmt(t.log_applyCancelled, { id: a.plan.id }));
    } else h.log(failedLine(h.strings, fmt(t.log_apply, { id: a.plan.id }), err));
    a.error = err;
    h.changed(true);
    return false;
  }
}

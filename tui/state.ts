/**
 * The UI's whole state as plain data. The controller (app.ts) changes it in response
 * to keys and engine events; the view-models (views/) turn it into Frames.
 */
import type { DriftView } from './drift-view.js';
import type { Why } from '../src/device/index.js';
import type { ApplyOutcome, DeviceInfo, MaintenanceOutcome, MediaListing, PlanInfo, ReceiptWait, SignatureInfo, UpdateEntry } from './engine-types.js';
import type { Meter } from './meter.js';

/** The screens, in the order a technician meets them. */
export type ScreenId = 'device' | 'media' | 'verify' | 'confirm' | 'apply' | 'done' | 'maint' | 'log' | 'receipts' | 'detail';

/** An error as the UI keeps it: the stable code, the library's one-line message, and the reason as data when the engine gave one. */
export interface UiError {
  code: string;
  message: string;
  why?: Why;
}

/** Marks that read on a monochrome serial console; ASCII when the terminal is not UTF-8. */
export interface Glyphs {
  ok: string;
  no: string;
  run: string;
  arrow: string;
  full: string;
  empty: string;
}

/** UTF-8 glyphs. */
export const UNICODE_GLYPHS: Glyphs = { ok: '✓', no: '✗', run: '>', arrow: '→', full: '#', empty: '.' };
/** Plain ASCII glyphs (TERM=vt100, LANG=C). */
export const ASCII_GLYPHS: Glyphs = { ok: '+', no: 'x', run: '>', arrow: '->', full: '#', empty: '.' };

/** One line of the log view. */
export interface LogEntry {
  at: string;
  text: string;
}

/** Screen 3. */
export interface VerifyState {
  entry: UpdateEntry;
  phase: 'signature' | 'blobs' | 'ok' | 'failed' | 'stopped';
  signature?: SignatureInfo;
  meter?: Meter;
  detail?: string;
  error?: UiError;
}

/** One stage of an apply. */
export interface StageState {
  step: string;
  state: 'waiting' | 'running' | 'done' | 'failed' | 'stopped';
}

/** Screen 5. */
export interface ApplyState {
  plan: PlanInfo;
  stages: StageState[];
  meter?: Meter;
  /** The stage the meter measures (verify, then write). */
  meterStage?: string;
  detail?: string;
  /** The bootloader switch has started: cancelling is no longer possible. */
  switched: boolean;
  cancelAsked: boolean;
  cancelling: boolean;
  cancelled: boolean;
  error?: UiError;
}

/** Screen 7: roll back or mark good. */
export interface MaintState {
  action: 'rollback' | 'markGood';
  /** 0 = Back, 1 = the action button. */
  focus: 0 | 1;
  busy: boolean;
  /** mark-good of a slot whose health check failed: the deliberate second question is on screen. */
  second?: boolean;
  /** What the engine did (and where the receipt went, or why it waits). */
  result?: MaintenanceOutcome;
  error?: UiError;
  rebooting?: 'asked' | 'sent';
  /** The device as it was when the screen opened: the question must not change under the answer. */
  info?: DeviceInfo;
}

/** A full-text view over any screen (Enter/d on a detail, ? for help): nothing is cut, it scrolls. */
export interface Overlay {
  title: string;
  lines: string[];
  scroll: number;
  back: ScreenId;
}

/** Sticks: the ones mounted, the listing, verify verdicts kept while the stick stays in, and notices. */
export interface MediaState {
  roots: string[];
  rootIndex: number;
  listing?: MediaListing;
  error?: UiError;
  loading: boolean;
  selected: number;
  /** Failed verifications, keyed by stick root and update id; dropped when that stick is pulled. */
  verdicts: Record<string, UiError>;
  /** The stick in use was pulled while another is present: nothing is opened until a key press. */
  switchNotice?: { gone: string; next: string };
  /** Receipts delivered to the stick (or why not), shown under the list. */
  delivered?: { root: string; written: string[]; problem?: ReceiptWait };
}

/** Everything on screen, as data. */
export interface AppState {
  screen: ScreenId;
  /** Where "q" from the log view returns to. */
  logReturn: ScreenId;
  glyphs: Glyphs;
  device: { info?: DeviceInfo; error?: UiError; loading: boolean; drift?: DriftView };
  media: MediaState;
  verify?: VerifyState;
  confirm?: { plan: PlanInfo; focus: 0 | 1 };
  apply?: ApplyState;
  done?: { outcome: ApplyOutcome; rebooting: boolean; rebootSent?: boolean; lateCancel?: boolean; error?: UiError };
  maint?: MaintState;
  /** Help or a detail text over the current screen. */
  overlay?: Overlay;
  /** Read rate measured while verifying (bytes/s), for the time estimate before confirming. */
  readRate?: number;
  log: LogEntry[];
  logScroll: number;
}

/** The state at start-up. */
export function initialState(glyphs: Glyphs): AppState {
  return {
    screen: 'device',
    logReturn: 'device',
    glyphs,
    device: { loading: true },
    media: { roots: [], rootIndex: 0, loading: false, selected: 0, verdicts: {} },
    log: [],
    logScroll: 0,
  };
}

/** Canonical apply stages, shown before the engine reports them. */
export const APPLY_STAGES = ['verify', 'write', 'sync', 'bootloader', 'receipt'] as const;

/** Map an engine progress step to a canonical stage (unknown steps keep their own name). */
export function stageOf(step: string): string {
  const s = step.toLowerCase();
  if (/boot|switch|primary/.test(s)) return 'bootloader';
  if (/receipt/.test(s)) return 'receipt';
  if (/sync|fsync|flush|record/.test(s)) return 'sync';
  if (/verify|plan|check|signature|trust/.test(s)) return 'verify';
  if (/write|extract|layer|blob|copy|mkfs|unpack|mark/.test(s)) return 'write';
  return s;
}

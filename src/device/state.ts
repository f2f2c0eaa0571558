/**
 * The device state, `<stateDir>/state.json` (DESIGN.md section 4): per-slot records,
 * the anti-rollback counter floor per target, the trusted time, the cached CRL,
 * receipts not yet written to a stick, and the last result. Always replaced
 * atomically (temp, fsync, rename, fsync dir); validated on every load.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { parseStrictJson } from '../util/json.js';
import { signUnsignedReceipts } from './device-key.js';
import type { Receipt } from './receipts.js';
import { SLOT_NAMES, type SlotName, type SlotStatus } from './types.js';

export const STATE_SCHEMA = 'ferry.device-state/v1';
const STATE_CAP = 8 * 1024 * 1024;
/** Receipts kept while no writable stick comes by; the oldest are dropped beyond this. */
export const MAX_PENDING_RECEIPTS = 200;

/** Why a slot was marked bad or an action failed. */
export interface RecordedError {
  code: string;
  message: string;
  at: string;
}

/** What ferry knows about one slot. */
export interface SlotRecord {
  status: SlotStatus;
  updateId?: string;
  target?: string;
  version?: string;
  counter?: number;
  /** The image manifest digest written into the slot. */
  imageDigest?: string;
  installedAt?: string;
  committedAt?: string;
  lastError?: RecordedError;
}

/** The outcome of the last apply / boot-check / mark / rollback. */
export interface LastResult {
  action: string;
  result: 'success' | 'failure' | 'cancelled' | 'rolled-back' | 'nothing-to-do';
  at: string;
  updateId?: string;
  code?: string;
  message?: string;
}

/**
 * An apply that has marked its target bad and not yet finished. Written before the first
 * byte of the slot, cleared when the apply records its result: if it is still there when
 * the next device command holds the lock, the apply died (power cut, out of memory,
 * SIGKILL) and that command records it (interrupted.ts).
 */
export interface InProgress {
  action: 'apply';
  /** writing: slot marked bad and being written; switching: written and recorded pending, bootloader switch next. */
  phase: 'writing' | 'switching';
  pid: number;
  startedAt: string;
  targetSlot: SlotName;
  bootedSlot: SlotName;
  updateId: string;
  version: string;
  counter: number;
  imageDigest: string;
}

/** A rollback the operator chose (mark-good/rollback by hand), so it is never mistaken for a failed boot. */
export interface OperatorRollback {
  by: 'operator';
  at: string;
  from: { slot: SlotName; version?: string };
  to: { slot: SlotName; version?: string };
}

/** One entry of the device's recent history (apply, boot-check, mark-good, mark-bad, rollback). */
export interface DeviceEvent {
  at: string;
  action: string;
  result: LastResult['result'];
  slot?: SlotName;
  version?: string;
  code?: string;
  message?: string;
  /** The receipt's stamp, and where it was delivered once a writable stick came by. */
  receipt?: string;
  deliveredTo?: string;
}

/** Events kept in the state (the oldest are dropped beyond this). */
export const MAX_EVENTS = 100;

/** The whole persisted device state. */
export interface DeviceState {
  schema: typeof STATE_SCHEMA;
  slots: Record<SlotName, SlotRecord>;
  /**
   * Lowest counter still installable, per target name; only ever rises. It rises when
   * a slot is COMMITTED (boot-check pass or mark-good) to that slot's counter, not at
   * apply: raising it at apply would forbid reinstalling the release the device just
   * fell back to after a failed update. RAUC leaves downgrade policy to install hooks
   * and Mender to artifact provides/depends; ferry enforces it itself, like TUF's
   * rollback rule, but only for releases that proved they boot.
   */
  counterFloor: Record<string, number>;
  /** Newest trusted time seen (RFC 3339); only ever rises. */
  trustedTime?: string;
  /** The newest accepted root-signed CRL (PEM text). */
  crlPem?: string;
  pendingReceipts: Receipt[];
  lastResult?: LastResult;
  /**
   * The target name this device follows (DESIGN.md §6 "Target binding"): set by
   * `ferry device init --target` or by the first committed release; an update for
   * another name is refused (WRONG_TARGET) unless its signed manifest `replaces` it.
   */
  target?: string;
  /** An apply in flight (see InProgress). */
  inProgress?: InProgress;
  /** The last rollback chosen by the operator. */
  rollback?: OperatorRollback;
  /** Recent history, oldest first (at most MAX_EVENTS). */
  events?: DeviceEvent[];
}

/** A fresh state: both slots empty, no floor. */
export function emptyState(): DeviceState {
  return { schema: STATE_SCHEMA, slots: { A: { status: 'empty' }, B: { status: 'empty' } }, counterFloor: {}, pendingReceipts: [] };
}

const STATUSES: readonly SlotStatus[] = ['good', 'bad', 'pending', 'empty'];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));

function checkSlotRecord(name: SlotName, r: unknown, bad: string[]): void {
  if (!isObj(r)) return void bad.push(`slots.${name} must be an object`);
  if (!STATUSES.includes(r.status as SlotStatus)) bad.push(`slots.${name}.status must be one of ${STATUSES.join(', ')}`);
  for (const k of ['updateId', 'target', 'version', 'imageDigest'] as const) {
    if (r[k] !== undefined && typeof r[k] !== 'string') bad.push(`slots.${name}.${k} must be a string`);
  }
  if (r.counter !== undefined && !Number.isSafeInteger(r.counter)) bad.push(`slots.${name}.counter must be an integer`);
  for (const k of ['installedAt', 'committedAt'] as const) if (r[k] !== undefined && !isTime(r[k])) bad.push(`slots.${name}.${k} must be a time`);
  if (r.lastError !== undefined && !(isObj(r.lastError) && typeof r.lastError.code === 'string' && typeof r.lastError.message === 'string')) {
    bad.push(`slots.${name}.lastError must be {code, message, at}`);
  }
}

/** Validate a parsed state document, listing every bad field (STATE_INVALID). */
export function parseDeviceState(v: unknown, where = 'state.json'): DeviceState {
  const bad: string[] = [];
  if (!isObj(v)) bad.push('must be a JSON object');
  else {
    if (v.schema !== STATE_SCHEMA) bad.push(`schema must be "${STATE_SCHEMA}"`);
    if (!isObj(v.slots)) bad.push('slots must be an object');
    else for (const n of SLOT_NAMES) checkSlotRecord(n, v.slots[n], bad);
    if (!isObj(v.counterFloor) || !Object.values(v.counterFloor).every((c) => Number.isSafeInteger(c))) bad.push('counterFloor must map targets to integers');
    if (v.trustedTime !== undefined && !isTime(v.trustedTime)) bad.push('trustedTime must be a time');
    if (v.crlPem !== undefined && typeof v.crlPem !== 'string') bad.push('crlPem must be a string');
    if (!Array.isArray(v.pendingReceipts) || !v.pendingReceipts.every((r) => isObj(r) && typeof r.action === 'string' && typeof r.stamp === 'string')) {
      bad.push('pendingReceipts must be a list of receipts');
    }
    if (v.lastResult !== undefined && !(isObj(v.lastResult) && typeof v.lastResult.action === 'string')) bad.push('lastResult must be an object');
    if (v.target !== undefined && (typeof v.target !== 'string' || v.target.length === 0)) bad.push('target must be a target name');
    if (v.inProgress !== undefined && !(isObj(v.inProgress) && v.inProgress.action === 'apply' && SLOT_NAMES.includes(v.inProgress.targetSlot as SlotName) && typeof v.inProgress.updateId === 'string')) {
      bad.push('inProgress must be {action: "apply", targetSlot, updateId, ...}');
    }
    if (v.rollback !== undefined && !(isObj(v.rollback) && isTime(v.rollback.at) && isObj(v.rollback.from) && isObj(v.rollback.to))) bad.push('rollback must be {by, at, from, to}');
    if (v.events !== undefined && !(Array.isArray(v.events) && v.events.every((e) => isObj(e) && typeof e.action === 'string' && isTime(e.at)))) bad.push('events must be a list of {at, action, result}');
  }
  if (bad.length > 0) {
    throw new FerryError('STATE_INVALID', `${where} is invalid (${bad.join('; ')}): restore it from backup or move it away to start from a fresh state (slots then show as empty)`, {
      details: { problems: bad },
    });
  }
  return v as unknown as DeviceState;
}

/** The path of state.json in a state directory. */
export function statePath(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

/** Load the state (a fresh one when the file does not exist yet). */
export async function loadState(stateDir: string): Promise<DeviceState> {
  const file = statePath(stateDir);
  let bytes: Buffer;
  try {
    bytes = await readFileCapped(file, STATE_CAP, 'device state');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new FerryError('STATE_INVALID', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = parseStrictJson(bytes, STATE_CAP, file);
  } catch (e) {
    throw new FerryError('STATE_INVALID', `${file} is not valid JSON (${(e as Error).message}): restore it or move it away to start fresh`, { cause: e });
  }
  return parseDeviceState(parsed, file);
}

/** Persist the state atomically; creates the state directory when missing. */
export async function saveState(stateDir: string, state: DeviceState): Promise<void> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  // every receipt is signed before the state that queues it is persisted: none leaves the device unsigned
  await signUnsignedReceipts(stateDir, state.pendingReceipts);
  if (state.pendingReceipts.length > MAX_PENDING_RECEIPTS) state.pendingReceipts.splice(0, state.pendingReceipts.length - MAX_PENDING_RECEIPTS);
  if (state.events && state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  await writeFileAtomic(statePath(stateDir), JSON.stringify(state, null, 2) + '\n', 0o600);
}

/**
 * The anti-rollback floor of `target`, or undefined. Own keys only: a signed target name may
 * be "constructor" or "valueOf", and an inherited Object.prototype member is no floor.
 */
export function floorOf(state: DeviceState, target: string): number | undefined {
  return Object.hasOwn(state.counterFloor, target) ? state.counterFloor[target] : undefined;
}

/** Raise the counter floor of `target` to `counter`; never lowers it. */
export function raiseFloor(state: DeviceState, target: string, counter: number): void {
  const cur = floorOf(state, target);
  if (cur === undefined || counter > cur) state.counterFloor[target] = counter;
}

/**
 * The target name the device follows: the one set at provisioning or by the last commit,
 * or (state written before target binding) the target of its newest committed slot.
 */
export function boundTarget(state: DeviceState): string | undefined {
  if (state.target !== undefined) return state.target;
  const committed = SLOT_NAMES.map((n) => state.slots[n]).filter((r) => r.status === 'good' && r.target !== undefined);
  committed.sort((a, b) => Date.parse(b.committedAt ?? b.installedAt ?? '0') - Date.parse(a.committedAt ?? a.installedAt ?? '0'));
  return committed[0]?.target;
}

/**
 * Commit a release (boot-check pass, mark-good): the floor of its target rises to its
 * counter, and the device now follows its target; when that name replaced the one the
 * device followed, the old name's floor carries over (it never falls by a rename).
 */
export function commitRelease(state: DeviceState, rec: SlotRecord): void {
  if (rec.target === undefined || rec.counter === undefined) return;
  const before = boundTarget(state);
  if (before !== undefined && before !== rec.target) {
    const old = floorOf(state, before);
    if (old !== undefined) raiseFloor(state, rec.target, old);
  }
  raiseFloor(state, rec.target, rec.counter);
  state.target = rec.target;
}

/** Raise the trusted time to `t`; never lowers it. */
export function raiseTrustedTime(state: DeviceState, t: Date): void {
  if (state.trustedTime === undefined || t.getTime() > Date.parse(state.trustedTime)) state.trustedTime = t.toISOString();
}

/** The time used for validity checks: max(device clock, trusted time) (DESIGN.md section 3). */
export function effectiveNow(state: DeviceState, clock: Date): Date {
  const t = state.trustedTime === undefined ? 0 : Date.parse(state.trustedTime);
  return new Date(Math.max(clock.getTime(), t));
}

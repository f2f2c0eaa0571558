/**
 * Deciding what to install (STYLE.md rule 4: plan, then act). Pure: the verified
 * updates on the stick (or why each was refused), the device config and state,
 * the bootloader's view and the booted slot go in; a complete install plan, or
 * the reason every update was skipped, comes out. Nothing here touches a disk.
 */
import { ERROR_CODES, type ErrorCode, ExitCode } from '../errors.js';
import type { UpdateManifest, VerifiedSigner } from '../trust/types.js';
import type { DeviceConfig } from './config.js';
import { boundTarget, type DeviceState, floorOf, type SlotRecord } from './state.js';
import { type BootState, bootsNext, type ImageSize, otherSlot, payloadNeed, type SlotName, type SpaceNeed } from './types.js';
import { type Why, why } from './why.js';

/** One update found on the stick: verified (signature, chain, expiry) or refused with a reason. */
export interface UpdateCandidate {
  id: string;
  manifest?: UpdateManifest;
  /** Set when verification refused it (code is a FerryError code; why: the device policy's reason as data). */
  refusal?: { code: ErrorCode; message: string; why?: Why };
  /** Signer subjects that verified, for the confirmation screen. */
  signers?: string[];
  /** Each verified signer in full (issuer, serial, validity, fingerprint, anchor), for the detail views. */
  signerDetails?: VerifiedSigner[];
}

/** Why an update was not chosen. */
export interface SkipReason {
  id: string;
  code: ErrorCode;
  message: string;
  /** Raw numbers behind the message (counters), for --json; technicians read versions in the message. */
  details?: Record<string, unknown>;
  /** The reason as data, for a user interface in another language. */
  why?: Why;
}

/** The version of the release of `name` with `counter` that a slot still records, when one does. */
export function releaseVersion(state: DeviceState, name: string, counter: number | undefined): string | undefined {
  if (counter === undefined) return undefined;
  for (const r of [state.slots.A, state.slots.B]) if (r.target === name && r.counter === counter && r.version !== undefined) return r.version;
  return undefined;
}

/** Everything needed to act, decided before the first write. */
export interface InstallPlan {
  update: UpdateManifest;
  signers: string[];
  booted: SlotName;
  target: SlotName;
  /** What the target slot holds now (it is overwritten). */
  replaces: SlotRecord;
  payloadBytes: number;
  /** `measure`: whether neededBytes is the unpacked image size or the compressed payload. */
  space: { availableBytes: number | undefined; neededBytes: number; measure: SpaceNeed['measure']; ok: boolean };
  bootloader: { setPrimary: SlotName; attempts: number };
  /** How the slot is written (set by the applier once the image is opened): incremental or full, and why. */
  write?: { mode: 'incremental' | 'full'; reason: string; changedBytes?: number; totalBytes?: number };
}

/** The planner's answer. */
export type PlanResult =
  | { kind: 'install'; plan: InstallPlan; skipped: SkipReason[] }
  | { kind: 'nothing'; code: ErrorCode; message: string; why: Why; skipped: SkipReason[] };

/** Inputs of planInstall. */
export interface PlanInputs {
  candidates: UpdateCandidate[];
  config: DeviceConfig;
  state: DeviceState;
  bootState: BootState;
  booted: SlotName;
  /** `--update <id>`: only this one. */
  requestedId?: string;
  /** max(device clock, trusted time). */
  now: Date;
  /** Free bytes in the target slot (undefined: unknown, not checked). */
  targetAvailableBytes: number | undefined;
  /** The target slot's measure of what an image needs (Slot.requiredBytes); default: the compressed payload. */
  targetRequiredBytes?: (image: ImageSize) => SpaceNeed;
}

/** Why a verified update does not apply to this device, or undefined when it does. */
export function applicability(m: UpdateManifest, inp: PlanInputs): SkipReason | undefined {
  const skip = (code: ErrorCode, message: string, w: Why, details?: Record<string, unknown>): SkipReason => ({ id: m.id, code, message, why: w, ...(details ? { details } : {}) });
  const v = m.target.version;
  const { config, state, booted } = inp;
  const running = state.slots[booted];
  const target = state.slots[otherSlot(booted)];
  if (!m.target.compatible.includes(config.compatible)) {
    return skip('INCOMPATIBLE_DEVICE', `built for ${m.target.compatible.join(', ')}, this device is ${config.compatible}`, why('incompatible', { builtFor: m.target.compatible.join(', '), device: config.compatible }));
  }
  const bound = boundTarget(state);
  if (bound !== undefined && m.target.name !== bound) {
    if (!(m.target.replaces ?? []).includes(bound)) {
      return skip('WRONG_TARGET', `this device follows ${bound}; ${m.id} is for ${m.target.name}, which does not replace ${bound}`, why('wrongTarget', { follows: bound, id: m.id, target: m.target.name }));
    }
    const carried = floorOf(state, bound);
    if (carried !== undefined && m.target.counter <= carried) {
      const had = releaseVersion(state, bound, carried);
      return skip('DOWNGRADE_REFUSED', `${m.target.name} ${v} is not newer than ${had !== undefined ? `${bound} ${had}, which this device already ran` : `the newest ${bound} release this device already ran`} and which it replaces (anti-rollback)`, why('replacedNotNewer', { target: m.target.name, v, follows: bound, had }), { counter: m.target.counter, floor: carried, floorTarget: bound });
    }
  }
  const nb = m.rollout?.notBefore;
  if (nb !== undefined && Date.parse(nb) > inp.now.getTime()) return skip('NOT_YET_ROLLED_OUT', `not to be installed before ${nb}`, why('notYetRolledOut', { at: nb }));
  const floor = floorOf(state, m.target.name);
  if (floor !== undefined && m.target.counter < floor) {
    const had = releaseVersion(state, m.target.name, floor);
    return skip('DOWNGRADE_REFUSED', `version ${v} is older than ${had !== undefined ? `version ${had}` : 'a release'} this device already ran (anti-rollback)`, why('olderThanFloor', { v, had }), { counter: m.target.counter, floor });
  }
  const sameAsRunning = running.target === m.target.name && running.counter === m.target.counter;
  if (sameAsRunning && !config.policy.allowSameVersion) {
    return skip('ALREADY_INSTALLED', `version ${m.target.version} is already running in slot ${booted}`, why('alreadyRunning', { v, slot: booted }));
  }
  if (running.target === m.target.name && running.counter !== undefined && m.target.counter < running.counter) {
    return skip('DOWNGRADE_REFUSED', `version ${v} is older than the running version ${running.version ?? '(unknown)'}`, why('olderThanRunning', { v, running: running.version }), { counter: m.target.counter, runningCounter: running.counter });
  }
  // Pending and primary: installed, waiting for its reboot. Pending but not primary means the
  // apply died before the bootloader switch; installing again rewrites it and switches.
  const t = otherSlot(booted);
  const primary = bootsNext(inp.bootState, t);
  if (target.status === 'pending' && target.updateId === m.id && primary) {
    return skip('ALREADY_INSTALLED', `already installed in slot ${t} and waiting for a reboot`, why('awaitingReboot', { slot: t }));
  }
  const min = m.target.requires?.minCounter;
  if (min !== undefined && (running.target !== m.target.name || (running.counter ?? -1) < min)) {
    const now = running.version !== undefined ? `${running.target ?? ''} ${running.version}`.trim() : 'none';
    return skip('REQUIREMENT_NOT_MET', `version ${v} needs a newer release running first (running: ${now}): install the intermediate release first`, why('needsIntermediate', { v, running: running.version }), { minCounter: min, runningCounter: running.counter });
  }
  return undefined;
}

/** The code for "nothing installed": a security refusal outranks media damage, which outranks "not applicable". */
function summaryCode(skipped: SkipReason[]): ErrorCode {
  const rank = (c: ErrorCode) => (ERROR_CODES[c] === ExitCode.SECURITY ? 3 : ERROR_CODES[c] === ExitCode.MEDIA_IO ? 2 : 1);
  let best: ErrorCode = 'NO_APPLICABLE_UPDATE';
  let bestRank = 0;
  for (const s of skipped) {
    if (rank(s.code) > bestRank) {
      best = rank(s.code) === 1 ? 'NO_APPLICABLE_UPDATE' : s.code;
      bestRank = rank(s.code);
    }
  }
  // One applicability reason alone is reported as itself (e.g. DOWNGRADE_REFUSED).
  if (bestRank === 1 && skipped.length === 1) return skipped[0]!.code;
  return best;
}

/** Plan an install: choose the compatible update with the newest counter above the floor. */
export function planInstall(inp: PlanInputs): PlanResult {
  const { booted, state } = inp;
  const target = otherSlot(booted);
  if (state.slots[booted].status === 'pending') {
    const msg = `the running slot ${booted} (${state.slots[booted].version ?? 'unknown version'}) is a pending update, not committed yet: finish it first (boot-check or mark-good keeps it, rollback goes back), or the fallback slot ${target} would be overwritten`;
    return { kind: 'nothing', code: 'UPDATE_PENDING', message: msg, why: why('runningPending', { slot: booted, v: state.slots[booted].version, target }), skipped: [] };
  }
  if (state.slots[booted].status === 'bad') {
    const msg = `the running slot ${booted} is marked bad: finish that first (mark-good keeps it if it is healthy, rollback goes back) before installing over slot ${target}`;
    return { kind: 'nothing', code: 'UPDATE_PENDING', message: msg, why: why('runningBad', { slot: booted, target }), skipped: [] };
  }
  if (!inp.bootState.slots[booted].good) {
    // After the switch the running slot is the only fallback: the bootloader must be willing to boot it.
    const msg = `the bootloader does not consider the running slot ${booted} bootable, so a failed update in slot ${target} would have nothing to fall back to: run \`ferry device boot-check\` or \`ferry device mark-good\` first`;
    return { kind: 'nothing', code: 'SLOT_BUSY', message: msg, why: why('runningNotBootable', { slot: booted, target }), skipped: [] };
  }
  let pool = inp.candidates;
  if (inp.requestedId !== undefined) {
    pool = pool.filter((c) => c.id === inp.requestedId);
    if (pool.length === 0) {
      const have = inp.candidates.map((c) => c.id).join(', ') || 'none';
      return { kind: 'nothing', code: 'NO_APPLICABLE_UPDATE', message: `no update "${inp.requestedId}" on the media (it has: ${have})`, why: why('noSuchUpdate', { id: inp.requestedId, have }), skipped: [] };
    }
  }
  const skipped: SkipReason[] = [];
  const ok: UpdateCandidate[] = [];
  for (const c of pool) {
    if (c.refusal || !c.manifest) {
      const w = c.refusal ? c.refusal.why : why('notVerified');
      skipped.push({ id: c.id, code: c.refusal?.code ?? 'MANIFEST_INVALID', message: c.refusal?.message ?? 'not verified', ...(w ? { why: w } : {}) });
      continue;
    }
    const skip = applicability(c.manifest, inp);
    if (skip) skipped.push(skip);
    else ok.push(c);
  }
  if (ok.length === 0) {
    const code = pool.length === 0 ? 'NO_APPLICABLE_UPDATE' : summaryCode(skipped);
    const message = pool.length === 0 ? 'the media carries no updates (FERRY/updates is empty)' : `no applicable update on the media (${skipped.length} skipped)`;
    return { kind: 'nothing', code, message, why: pool.length === 0 ? why('noUpdates') : why('nothingApplicable', { n: skipped.length }), skipped };
  }
  ok.sort((a, b) => b.manifest!.target.counter - a.manifest!.target.counter);
  const chosen = ok[0]!;
  for (const c of ok.slice(1)) skipped.push({ id: c.id, code: 'NO_APPLICABLE_UPDATE', message: `older than ${chosen.id}, which is chosen`, why: why('olderThanChosen', { chosen: chosen.id }) });
  const update = chosen.manifest!;
  const need = (inp.targetRequiredBytes ?? payloadNeed)(update.image);
  const avail = inp.targetAvailableBytes;
  // The write stops at the slot's free-space reserve (extract/unpack-budget.ts): plan with it, so the plan and the write agree.
  const reserve = inp.config.policy.reserveBytes;
  const space = { availableBytes: avail, neededBytes: need.bytes, measure: need.measure, ok: avail === undefined || avail >= need.bytes + reserve };
  if (!space.ok) {
    const what = need.measure === 'unpacked' ? 'unpacked' : 'compressed payload';
    const plus = avail !== undefined && avail >= need.bytes ? ` plus the ${reserve}-byte reserve (policy.reserveBytes)` : '';
    const message = `slot ${target} has ${avail} bytes free but ${update.id} needs ${need.bytes} (${what} size)${plus}: use a larger slot or free space on it`;
    const w = why('noSpace', { slot: target, freeBytes: avail, needBytes: need.bytes + (plus ? reserve : 0), id: update.id });
    return { kind: 'nothing', code: 'NO_SPACE', message, why: w, skipped: [...skipped, { id: update.id, code: 'NO_SPACE', message, why: w }] };
  }
  const plan: InstallPlan = {
    update,
    signers: chosen.signers ?? [],
    booted,
    target,
    replaces: state.slots[target],
    payloadBytes: update.image.payloadBytes,
    space,
    bootloader: { setPrimary: target, attempts: inp.config.bootloader.attempts },
  };
  return { kind: 'install', plan, skipped };
}

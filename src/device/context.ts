/**
 * Opening a device for one operation: config, bootloader, booted slot and state,
 * plus the seams to the slot backends and the media verifier (injected so the
 * engine is testable and the wiring lives in one place, device/deps.ts).
 */
import { FerryError } from '../errors.js';
import type { SlotConfig } from './config.js';
import { type DeviceConfig, loadDeviceConfig } from './config.js';
import { type BootedSlotSource, readBootedSlot } from './booted-slot.js';
import { BOOTLOADER_TYPES, createBootloader } from './bootloaders/registry.js';
import { acquireLock, type DeviceLock } from './lock.js';
import type { PlanInputs, UpdateCandidate } from './plan.js';
import { removeStaleTemps } from '../util/fsx.js';
import { type DeviceState, effectiveNow } from './state.js';
import { type Bootloader, type ImageSize, otherSlot, payloadNeed, type Slot, type SlotName } from './types.js';

/** What the device hands the media verifier: its trust material location and state. */
export interface MediaVerifyRequest {
  mediaRoot: string;
  trustDir: string;
  /** The cached CRL (PEM) and trusted time from the state. */
  state: DeviceState;
  requiredSigners: number;
  compatible: string;
  allowSameVersion: boolean;
  booted: SlotName;
  clock: Date;
}

/** The verifier's answer: every update on the stick, verified or refused, plus trust updates. */
export interface MediaVerifyResult {
  candidates: UpdateCandidate[];
  /** Trusted time to persist (ms) after a successful install. */
  newTrustedTime?: number;
  /** A newer root-signed CRL (DER) to cache. */
  crlToCache?: Uint8Array;
}

/** The engine's seams to other areas (slots, trust, media). */
export interface DeviceDeps {
  slotTypes: readonly string[];
  createSlot(name: SlotName, cfg: SlotConfig, ctx: { stateDir: string }): Slot;
  verifyMedia(req: MediaVerifyRequest): Promise<MediaVerifyResult>;
}

/** Where to find the device (every field overridable for tests). */
export interface DeviceOptions {
  configFile: string;
  cmdlineFile?: string;
  env?: NodeJS.ProcessEnv;
  machineIdFile?: string;
}

/** An opened device (the state is loaded separately, under the lock). */
export interface DeviceContext {
  configFile: string;
  config: DeviceConfig;
  bootloader: Bootloader;
  booted: SlotName;
  bootedSource: BootedSlotSource;
  /** Both slots, built (and their parameters validated) by the slot factory. */
  slots: Record<SlotName, Slot>;
}

/** Load config, create the bootloader and learn the booted slot. */
export async function openDevice(opts: DeviceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<DeviceContext> {
  const config = await loadDeviceConfig(opts.configFile, { slots: deps.slotTypes, bootloaders: BOOTLOADER_TYPES }, opts.machineIdFile);
  const bootloader = createBootloader(config.bootloader, { stateDir: config.stateDir });
  const slots = buildSlots(config, deps, opts.configFile);
  const b = await readBootedSlot({ cmdlineFile: opts.cmdlineFile, configBootedSlot: config.bootedSlot, env: opts.env });
  return { configFile: opts.configFile, config, bootloader, booted: b.slot, bootedSource: b.source, slots };
}

/**
 * Take the device lock for one command, then remove the temporary files a run that died
 * (a power cut between create and rename) left in the state folder and beside the
 * bootloader environment: only ferry's own names, only under the lock.
 */
export async function lockDevice(dev: DeviceContext, what: string): Promise<DeviceLock> {
  const lock = await acquireLock(dev.config.stateDir, what);
  try {
    await removeStaleTemps(dev.config.stateDir);
    await dev.bootloader.removeStaleTemps?.();
  } catch (e) {
    await lock.release();
    throw e;
  }
  return lock;
}

/** The verification request for this device: its trust, policy and state, at `clock`. */
export function mediaVerifyRequest(dev: DeviceContext, state: DeviceState, mediaRoot: string, clock: Date): MediaVerifyRequest {
  return {
    mediaRoot,
    trustDir: dev.config.trustDir,
    state,
    requiredSigners: dev.config.policy.requiredSigners,
    compatible: dev.config.compatible,
    allowSameVersion: dev.config.policy.allowSameVersion,
    booted: dev.booted,
    clock,
  };
}

/**
 * Everything the planner needs about this device and the verified stick, gathered the
 * same way for `ferry device apply` and the terminal UI (the target slot's space and
 * the measure it needs included).
 */
export async function planInputs(dev: DeviceContext, state: DeviceState, verified: MediaVerifyResult, clock: Date): Promise<Omit<PlanInputs, 'requestedId'>> {
  const slot = dev.slots[otherSlot(dev.booted)];
  // The most any verified update needs: free space beyond that changes no plan, so it need not be counted.
  const need = (image: ImageSize) => (slot.requiredBytes ? slot.requiredBytes(image) : payloadNeed(image)).bytes;
  const needs = verified.candidates.flatMap((c) => (c.manifest && !c.refusal ? [need(c.manifest.image)] : []));
  const enough = needs.length > 0 ? Math.max(...needs) + dev.config.policy.reserveBytes : undefined;
  return {
    candidates: verified.candidates,
    config: dev.config,
    state,
    bootState: await dev.bootloader.getState(),
    booted: dev.booted,
    now: effectiveNow(state, clock),
    targetAvailableBytes: await slot.availableBytes(enough),
    ...(slot.requiredBytes ? { targetRequiredBytes: (image: ImageSize) => slot.requiredBytes!(image) } : {}),
  };
}

/** Both slots from their factories; the problems of both are reported together. */
function buildSlots(config: DeviceConfig, deps: Pick<DeviceDeps, 'createSlot'>, file: string): Record<SlotName, Slot> {
  const out: Partial<Record<SlotName, Slot>> = {};
  const errors: FerryError[] = [];
  for (const name of ['A', 'B'] as const) {
    try {
      out[name] = deps.createSlot(name, config.slots[name], { stateDir: config.stateDir });
    } catch (e) {
      if (!(e instanceof FerryError)) throw e;
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0]!.withContext(`device config ${file}`);
  if (errors.length > 1) {
    throw new FerryError(errors[0]!.code, `device config ${file}: ${errors.map((e) => e.message).join('; ')}`, { details: { problems: errors.map((e) => e.message) } });
  }
  return out as Record<SlotName, Slot>;
}

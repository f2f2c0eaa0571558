/**
 * The device configuration, `/etc/ferry/device.json` (DESIGN.md section 4).
 * `parseDeviceConfig` is pure and lists every bad field at once (CONFIG_INVALID);
 * unknown slot and bootloader types are refused with the list of known ones.
 */
import { type DriftConfig, parseDriftConfig } from './files/glob.js';
import { AUTO_KEYS, type AutoSettings, parseAutoSettings } from './auto-config.js';
import { type MediaConfig, parseMediaConfig } from './media-config.js';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { readFileCapped } from '../util/fsx.js';
import { parseStrictJson } from '../util/json.js';
import type { SlotName } from './types.js';

export const DEFAULT_CONFIG_FILE = '/etc/ferry/device.json';
export const DEFAULT_STATE_DIR = '/var/lib/ferry';
export const DEFAULT_TRUST_DIR = '/etc/ferry/trust';
export const DEFAULT_MACHINE_ID_FILE = '/etc/machine-id';
export const DEFAULT_ATTEMPTS = 3;
/** GRUB script has no arithmetic: boot.cfg counts tries with a table up to 9. */
export const MAX_ATTEMPTS = 9;
const CONFIG_CAP = 256 * 1024;

/** One slot's parameters; the slot factory validates them by type. */
export interface SlotConfig {
  type: string;
  [param: string]: unknown;
}

/** The bootloader section: a type, its parameters, and the boot attempts a new slot gets. */
export interface BootloaderConfig {
  type: string;
  attempts: number;
  [param: string]: unknown;
}

/** The health check run by boot-check on a pending slot: exit 0 passes. */
export interface HealthCheckConfig {
  command: string;
  timeoutSec: number;
}

/** Install policy knobs. */
export interface DevicePolicy {
  requiredSigners: number;
  allowSameVersion: boolean;
  /**
   * Hash every blob once before the target slot is touched (a second read of the stick).
   * Off by default: the write is a single pass that verifies while streaming, as the
   * issue asks; on keeps the inactive slot intact when a stick turns out damaged.
   */
  verifyBeforeWrite: boolean;
  /**
   * Media whose signed update pins no chunk index (made before verified streaming):
   * "refuse" (default: CHUNK_INDEX_MISSING), or "preverify" (hash every blob in full first,
   * then write in a second read; a stick that changes its answers between the two reads is
   * not caught by the chunk check, only by the digest check while streaming).
   */
  legacyMedia: 'refuse' | 'preverify';
  /** Free bytes a slot's (and the state directory's) file system keeps while a slot is written; NO_SPACE below it. */
  reserveBytes: number;
  /** Before an incremental write, hash every file of the target slot instead of trusting size and mtime (device/reuse.ts). */
  verifySlotBeforeReuse: boolean;
}

/** A validated device configuration with every default filled in. */
export interface DeviceConfig {
  compatible: string;
  deviceId: string;
  stateDir: string;
  trustDir: string;
  slots: Record<SlotName, SlotConfig>;
  bootloader: BootloaderConfig;
  healthCheck: HealthCheckConfig | undefined;
  policy: DevicePolicy;
  rebootCommand: string;
  bootedSlot: SlotName | undefined;
  /** What `ferry device drift` leaves out. */
  drift: DriftConfig;
  /** What a stick insertion starts, the maintenance window, unattended reboot (auto-config.ts). */
  auto: AutoSettings;
  /** A site registry read when no stick is named, and how to reach it (media-config.ts). */
  media: MediaConfig;
}

/** The types the registries know, passed in so this module stays pure. */
export interface KnownTypes {
  slots: readonly string[];
  bootloaders: readonly string[];
}

const TOP_KEYS: readonly string[] = ['compatible', 'deviceId', 'stateDir', 'trustDir', 'slots', 'bootloader', 'healthCheck', 'policy', 'rebootCommand', 'bootedSlot', 'drift', 'media', '$comment', ...AUTO_KEYS];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && !v.includes('\0');
}

/** Validate a parsed config; `deviceId` may be filled later from /etc/machine-id. */
export function parseDeviceConfig(v: unknown, known: KnownTypes, defaultDeviceId = ''): DeviceConfig {
  const bad: string[] = [];
  if (!isObj(v)) throw new FerryError('CONFIG_INVALID', 'device config must be a JSON object; see the README for an example');
  for (const k of Object.keys(v)) if (!TOP_KEYS.includes(k)) bad.push(`unknown field "${k}"`);
  const str = (key: string, dflt?: string): string => {
    const x = v[key];
    if (x === undefined && dflt !== undefined) return dflt;
    if (!nonEmptyString(x)) bad.push(`"${key}" must be a non-empty string`);
    return typeof x === 'string' ? x : '';
  };
  const compatible = str('compatible');
  const deviceId = v.deviceId === undefined ? defaultDeviceId : str('deviceId');
  if (deviceId !== '' && (!/^[A-Za-z0-9._-]{1,128}$/.test(deviceId) || /^\.{1,2}$/.test(deviceId))) bad.push('"deviceId" may hold only letters, digits, ".", "_" and "-" (it names a receipts folder)');
  const cfg: DeviceConfig = {
    compatible,
    deviceId,
    stateDir: str('stateDir', DEFAULT_STATE_DIR),
    trustDir: str('trustDir', DEFAULT_TRUST_DIR),
    slots: parseSlots(v.slots, known.slots, bad),
    bootloader: parseBootloader(v.bootloader, known.bootloaders, bad),
    healthCheck: parseHealthCheck(v.healthCheck, bad),
    policy: parsePolicy(v.policy, bad),
    rebootCommand: str('rebootCommand', 'systemctl reboot'),
    bootedSlot: undefined,
    auto: parseAutoSettings(v, bad),
    drift: parseDriftConfig(v.drift, bad),
    media: parseMediaConfig(v.media, bad),
  };
  if (v.bootedSlot !== undefined) {
    if (v.bootedSlot === 'A' || v.bootedSlot === 'B') cfg.bootedSlot = v.bootedSlot;
    else bad.push('"bootedSlot" must be "A" or "B"');
  }
  if (bad.length > 0) {
    throw new FerryError('CONFIG_INVALID', `device config is invalid: ${bad.join('; ')}`, { details: { problems: bad } });
  }
  return cfg;
}

function parseSlots(v: unknown, known: readonly string[], bad: string[]): Record<SlotName, SlotConfig> {
  const out = { A: { type: '' }, B: { type: '' } } as Record<SlotName, SlotConfig>;
  if (!isObj(v)) {
    bad.push('"slots" must be an object with exactly the slots "A" and "B"');
    return out;
  }
  const names = Object.keys(v).sort();
  if (names.join(',') !== 'A,B') bad.push(`"slots" must name exactly "A" and "B" (found: ${names.join(', ') || 'none'})`);
  for (const name of ['A', 'B'] as const) {
    const s = v[name];
    if (!isObj(s)) continue;
    if (!nonEmptyString(s.type)) bad.push(`slots.${name}.type must be a string`);
    else if (!known.includes(s.type)) bad.push(`slots.${name}.type "${s.type}" is unknown (known: ${known.join(', ')})`);
    out[name] = { ...s, type: String(s.type ?? '') };
  }
  overlappingSlots(out, bad);
  return out;
}

/** Slots A and B on one directory (or one inside the other) or one device: writing the target would erase the running slot. */
function overlappingSlots(slots: Record<SlotName, SlotConfig>, bad: string[]): void {
  const { A, B } = slots;
  const norm = (v: unknown) => (typeof v === 'string' && path.isAbsolute(v) ? path.resolve(v) : undefined);
  const within = (a: string, b: string) => a === b || b.startsWith(a === '/' ? a : `${a}/`);
  if (A.type === 'dir' && B.type === 'dir') {
    const [a, b] = [norm(A.path), norm(B.path)];
    if (a !== undefined && b !== undefined && (within(a, b) || within(b, a))) bad.push(`slots A and B must be separate directories ("${a}" and "${b}" overlap): writing one would erase the other`);
  }
  if (A.type === 'block' && B.type === 'block') {
    const [a, b] = [norm(A.device), norm(B.device)];
    if (a !== undefined && a === b) bad.push(`slots A and B must be different devices (both are "${a}"): writing one would erase the other`);
  }
}

function parseBootloader(v: unknown, known: readonly string[], bad: string[]): BootloaderConfig {
  if (!isObj(v)) {
    bad.push('"bootloader" must be an object with a "type"');
    return { type: '', attempts: DEFAULT_ATTEMPTS };
  }
  if (!nonEmptyString(v.type)) bad.push('bootloader.type must be a string');
  else if (!known.includes(v.type)) bad.push(`bootloader.type "${v.type}" is unknown (known: ${known.join(', ')})`);
  const attempts = v.attempts ?? DEFAULT_ATTEMPTS;
  if (!Number.isInteger(attempts) || (attempts as number) < 1 || (attempts as number) > MAX_ATTEMPTS) {
    bad.push(`bootloader.attempts must be an integer from 1 to ${MAX_ATTEMPTS}`);
  }
  return { ...v, type: String(v.type ?? ''), attempts: Number(attempts) };
}

function parseHealthCheck(v: unknown, bad: string[]): HealthCheckConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v) || !nonEmptyString(v.command)) {
    bad.push('healthCheck.command must be a non-empty string');
    return undefined;
  }
  const t = v.timeoutSec ?? 60;
  if (typeof t !== 'number' || !(t > 0) || t > 3600) bad.push('healthCheck.timeoutSec must be a number of seconds from 1 to 3600');
  return { command: v.command, timeoutSec: Number(t) };
}

/** 16 MiB: room for the state (capped at 8 MiB), receipts and logs after a slot write that went to the limit. */
export const DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024;

function parsePolicy(v: unknown, bad: string[]): DevicePolicy {
  const p: DevicePolicy = { requiredSigners: 1, allowSameVersion: false, verifyBeforeWrite: false, legacyMedia: 'refuse', reserveBytes: DEFAULT_RESERVE_BYTES, verifySlotBeforeReuse: false };
  if (v === undefined) return p;
  if (!isObj(v)) {
    bad.push('"policy" must be an object');
    return p;
  }
  if (v.requiredSigners !== undefined) {
    if (!Number.isInteger(v.requiredSigners) || (v.requiredSigners as number) < 1) bad.push('policy.requiredSigners must be an integer ≥ 1');
    else p.requiredSigners = v.requiredSigners as number;
  }
  if (v.allowSameVersion !== undefined) {
    if (typeof v.allowSameVersion !== 'boolean') bad.push('policy.allowSameVersion must be true or false');
    else p.allowSameVersion = v.allowSameVersion;
  }
  if (v.verifyBeforeWrite !== undefined) {
    if (typeof v.verifyBeforeWrite !== 'boolean') bad.push('policy.verifyBeforeWrite must be true or false');
    else p.verifyBeforeWrite = v.verifyBeforeWrite;
  }
  if (v.legacyMedia !== undefined) {
    if (v.legacyMedia !== 'refuse' && v.legacyMedia !== 'preverify') bad.push('policy.legacyMedia must be "refuse" or "preverify"');
    else p.legacyMedia = v.legacyMedia;
  }
  if (v.verifySlotBeforeReuse !== undefined) {
    if (typeof v.verifySlotBeforeReuse !== 'boolean') bad.push('policy.verifySlotBeforeReuse must be true or false');
    else p.verifySlotBeforeReuse = v.verifySlotBeforeReuse;
  }
  if (v.reserveBytes !== undefined) {
    if (!Number.isSafeInteger(v.reserveBytes) || (v.reserveBytes as number) < 0) bad.push('policy.reserveBytes must be a whole number of bytes ≥ 0');
    else p.reserveBytes = v.reserveBytes as number;
  }
  return p;
}

/** Read the machine id used as the default device id (empty when absent). */
async function readMachineId(file: string): Promise<string> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** Load and validate the device config file (default /etc/ferry/device.json). */
export async function loadDeviceConfig(file: string, known: KnownTypes, machineIdFile = DEFAULT_MACHINE_ID_FILE): Promise<DeviceConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFileCapped(file, CONFIG_CAP, 'device config');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FerryError('CONFIG_INVALID', `device config ${file} does not exist: create it (see the README) or pass --config FILE`, { cause: e });
    }
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = parseStrictJson(bytes, CONFIG_CAP, `device config ${file}`);
  } catch (e) {
    throw new FerryError('CONFIG_INVALID', `device config ${file}: ${(e as Error).message}`, { cause: e });
  }
  const cfg = parseDeviceConfig(parsed, known, await readMachineId(machineIdFile));
  if (cfg.deviceId === '') {
    throw new FerryError('CONFIG_INVALID', `device config ${file}: no "deviceId" and ${machineIdFile} is missing; set "deviceId"`);
  }
  return cfg;
}

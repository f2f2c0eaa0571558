/**
 * `ferry device init`: provision a device once (factory image or technician). Validates the
 * config, installs the trust root into `<trustDir>/roots/`, gives the bootloader its initial
 * state (booted slot first and good, the other slot not bootable) and writes `state.json`
 * with the booted slot good and committed, last (crash safety: a crash before it leaves an
 * unprovisioned device, and a second run finishes the job). Everything is planned first;
 * a run whose plan is empty changes nothing and says so. Provisioned state that differs is
 * replaced only with `force`, and the result lists what was replaced.
 */
import { X509Certificate } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { fromPem } from '../trust/der-write.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { readBootedSlot } from './booted-slot.js';
import { BOOTLOADER_TYPES } from './bootloaders/registry.js';
import { type DeviceConfig, loadDeviceConfig } from './config.js';
import type { DeviceDeps, DeviceOptions } from './context.js';
import { deviceCsrPem, deviceKeyPath, loadOrCreateDeviceKey } from './device-key.js';
import { initBootloader } from './init-bootloader.js';
import { acquireLock } from './lock.js';
import { readOsRelease } from './os-release.js';
import { type DeviceState, emptyState, loadState, saveState, statePath } from './state.js';
import type { SlotName } from './types.js';

const ROOT_CAP = 1024 * 1024;

/** What to provision. */
export interface InitOptions extends DeviceOptions {
  /** A PEM file with the root CA certificate(s) to trust. */
  trustRoot?: string;
  /** The running slot (default: kernel command line, config `bootedSlot`, FERRY_BOOTED_SLOT). */
  booted?: SlotName;
  version?: string;
  /** The image manifest digest of the running slot (sha256:…). */
  digest?: string;
  /** The target name the device follows (DESIGN.md §6 "Target binding"). */
  target?: string;
  /** Replace provisioned state that differs (and a damaged boot state). */
  force?: boolean;
  /** Root of the booted slot, for its os-release (default: a dir slot's path, else / since the booted slot is running). */
  slotRoot?: string;
  /** Asked with the plan when there is something to change; false cancels. Absent: proceed. */
  confirm?: (plan: InitPlan) => Promise<boolean>;
  clock?: () => Date;
}

/** What init will do (or did). */
export interface InitPlan {
  deviceId: string;
  configFile: string;
  booted: SlotName;
  version?: string;
  digest?: string;
  target?: string;
  /** One line per change, in the order they are made (trust root, bootloader, state). */
  changes: string[];
  /** Provisioned state the changes replace (non-empty only with force). */
  replaces: string[];
  /** Things that still need doing (e.g. no trust root yet). */
  warnings: string[];
}

/** The outcome: `changed` false means the device was already provisioned exactly so. */
export interface InitResult extends InitPlan {
  changed: boolean;
  /** The receipt key: its id and the enrolment request for headquarters (`ferry pki enroll-device --csr`). */
  deviceKey: { file: string; keyId: string; csrPem: string };
}

/** The state file's provisioned fields: the state plus the bound target (DESIGN.md §6). */
type ProvisionedState = DeviceState & { target?: string };

function checkInputs(o: InitOptions): void {
  if (o.digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(o.digest)) throw new FerryError('USAGE', `--digest must be sha256:<64 hex digits>, not "${o.digest}"`);
  if (o.version !== undefined && !/^[A-Za-z0-9._+~-]{1,128}$/.test(o.version)) throw new FerryError('USAGE', `--version "${o.version}" may hold only letters, digits and . _ + ~ - (at most 128)`);
  if (o.target !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(o.target)) throw new FerryError('USAGE', `--target "${o.target}" may hold only letters, digits, ".", "_" and "-"`);
}

/** The root certificates in `file`: each a self-signed CA, else TRUST_INVALID. */
async function readRoot(file: string): Promise<Buffer> {
  const bytes = await readFileCapped(file, ROOT_CAP, 'trust root').catch((e: unknown) => {
    throw new FerryError('USAGE', `cannot read the trust root ${file}: ${(e as Error).message}`, { cause: e });
  });
  const ders = fromPem(bytes.toString('utf8'), 'CERTIFICATE');
  if (ders.length === 0) throw new FerryError('TRUST_INVALID', `${file} holds no PEM certificate: pass the root CA certificate (ferry pki init-root wrote cert.pem)`);
  for (const der of ders) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(der);
    } catch (e) {
      throw new FerryError('TRUST_INVALID', `${file}: a certificate cannot be parsed: ${(e as Error).message}`, { cause: e });
    }
    if (!c.ca || !c.checkIssued(c) || !c.verify(c.publicKey)) throw new FerryError('TRUST_INVALID', `${file}: "${c.subject.replace(/\n/g, ', ')}" is not a self-signed CA certificate: pass the root, not a signer or intermediate`);
  }
  return bytes;
}

/** The running slot's version from its os-release (IMAGE_VERSION, else VERSION_ID). */
async function osReleaseVersion(config: DeviceConfig, booted: SlotName, root: string | undefined): Promise<string | undefined> {
  const slot = config.slots[booted];
  const rel = await readOsRelease(root ?? (slot.type === 'dir' && typeof slot.path === 'string' ? slot.path : '/'));
  return rel.IMAGE_VERSION ?? rel.VERSION_ID;
}

/** The state init writes (timestamps aside, what a second run compares against). */
function provisionedState(booted: SlotName, o: { version?: string; digest?: string; target?: string }, at: string): ProvisionedState {
  const s: ProvisionedState = emptyState();
  s.slots[booted] = { status: 'good', ...(o.version ? { version: o.version } : {}), ...(o.digest ? { imageDigest: o.digest } : {}), committedAt: at };
  if (o.target) s.target = o.target;
  s.lastResult = { action: 'init', result: 'success', at, message: `provisioned: slot ${booted} good and committed` };
  return s;
}

/** The state without what changes on every run (times, history), for comparison. */
function essence(s: ProvisionedState): string {
  const slots = Object.fromEntries(Object.entries(s.slots).map(([k, r]) => [k, { ...r, committedAt: undefined, installedAt: undefined }]));
  return JSON.stringify({ slots, counterFloor: s.counterFloor, target: s.target, pendingReceipts: s.pendingReceipts.length, rollback: s.rollback });
}

/** A one-line summary of a provisioned state, for "replaces". */
function describeState(s: ProvisionedState): string {
  const slot = (n: SlotName) => `slot ${n} ${s.slots[n].status}${s.slots[n].version ? ` ${s.slots[n].version}` : ''}`;
  const floors = Object.entries(s.counterFloor).map(([t, c]) => `${t}=${c}`);
  return [slot('A'), slot('B'), ...(s.target ? [`target ${s.target}`] : []), ...(floors.length ? [`counter floor ${floors.join(', ')}`] : []), `${s.pendingReceipts.length} receipt(s) waiting`].join(', ');
}

/** Plan the trust root: nothing, install, or replace (force). */
async function planTrustRoot(o: InitOptions, trustDir: string, plan: InitPlan, refusals: string[]): Promise<{ file: string; bytes: Buffer } | undefined> {
  const roots = path.join(trustDir, 'roots');
  if (o.trustRoot === undefined) {
    const have = await fsp.readdir(roots).catch(() => [] as string[]);
    if (!have.some((n) => n.endsWith('.pem') && !n.startsWith('.'))) plan.warnings.push(`no trust root in ${roots}: apply refuses every update until one is installed (--trust-root ROOT.pem)`);
    return undefined;
  }
  const bytes = await readRoot(o.trustRoot);
  const base = path.basename(o.trustRoot);
  const file = path.join(roots, base.endsWith('.pem') ? base : `${base}.pem`);
  const old = await fsp.readFile(file).catch(() => undefined);
  if (old?.equals(bytes)) return undefined;
  if (old !== undefined) {
    if (!o.force) refusals.push(`${file} holds a different certificate`);
    plan.replaces.push(`trust root ${file}`);
  }
  plan.changes.push(`${old ? 'replace' : 'install'} trust root ${file}`);
  return { file, bytes };
}

/** Plan the state: nothing (same), create, or replace (force). */
async function planState(config: DeviceConfig, want: ProvisionedState, o: InitOptions, plan: InitPlan, refusals: string[]): Promise<boolean> {
  const file = statePath(config.stateDir);
  const exists = await fsp.stat(file).then(() => true, () => false);
  if (!exists) {
    plan.changes.push(`create ${file}: ${describeState(want)}`);
    return true;
  }
  let have: ProvisionedState;
  try {
    have = await loadState(config.stateDir);
  } catch (e) {
    if (!o.force || !(e instanceof FerryError)) throw e;
    plan.replaces.push(`the unreadable ${file} (${e.message})`);
    plan.changes.push(`replace ${file}: ${describeState(want)}`);
    return true;
  }
  if (essence(have) === essence(want)) return false;
  if (!o.force) refusals.push(`${file} already holds a provisioned state (${describeState(have)})`);
  plan.replaces.push(`device state: ${describeState(have)}`);
  plan.changes.push(`replace ${file}: ${describeState(want)}`);
  return true;
}

/** The receipt key (made when missing) and its enrolment request. */
async function keyInfo(stateDir: string, deviceId: string): Promise<InitResult['deviceKey']> {
  const key = await loadOrCreateDeviceKey(stateDir);
  return { file: key.file, keyId: key.keyId, csrPem: deviceCsrPem(deviceId, key) };
}

/** Provision the device (see the file comment). */
export async function initDevice(o: InitOptions, deps: Pick<DeviceDeps, 'slotTypes'>): Promise<InitResult> {
  checkInputs(o);
  const config = await loadDeviceConfig(o.configFile, { slots: deps.slotTypes, bootloaders: BOOTLOADER_TYPES }, o.machineIdFile);
  const booted = o.booted ?? (await readBootedSlot({ cmdlineFile: o.cmdlineFile, configBootedSlot: config.bootedSlot, env: o.env })).slot;
  const version = o.version ?? (await osReleaseVersion(config, booted, o.slotRoot));
  const plan: InitPlan = { deviceId: config.deviceId, configFile: o.configFile, booted, ...(version ? { version } : {}), ...(o.digest ? { digest: o.digest } : {}), ...(o.target ? { target: o.target } : {}), changes: [], replaces: [], warnings: [] };
  const lock = await acquireLock(config.stateDir, 'device init');
  try {
    const refusals: string[] = [];
    const root = await planTrustRoot(o, config.trustDir, plan, refusals);
    const bootReq = { cfg: config.bootloader, booted, stateDir: config.stateDir, force: Boolean(o.force) };
    const bootChanges = await initBootloader({ ...bootReq, write: false });
    plan.changes.push(...bootChanges.map((c) => `bootloader ${config.bootloader.type}: ${c}`));
    const at = (o.clock?.() ?? new Date()).toISOString();
    const want = provisionedState(booted, plan, at);
    const writeState = await planState(config, want, o, plan, refusals);
    const keyFile = deviceKeyPath(config.stateDir);
    if (!(await fsp.stat(keyFile).then(() => true, () => false))) plan.changes.push(`create the receipt signing key ${keyFile} (ECDSA P-256, mode 0600)`);
    if (refusals.length > 0) {
      throw new FerryError('ALREADY_PROVISIONED', `the device is already provisioned differently: ${refusals.join('; ')}; pass --force to replace it`, { details: { replaces: plan.replaces, changes: plan.changes } });
    }
    if (plan.changes.length === 0) return { ...plan, changed: false, deviceKey: await keyInfo(config.stateDir, config.deviceId) };
    if (o.confirm && !(await o.confirm(plan))) throw new FerryError('CANCELLED', 'device init cancelled: nothing was changed');
    if (root) {
      await fsp.mkdir(path.dirname(root.file), { recursive: true, mode: 0o755 });
      await writeFileAtomic(root.file, root.bytes, 0o644);
    }
    if (bootChanges.length > 0) await initBootloader({ ...bootReq, write: true });
    // the state last: until it exists, the device is not provisioned and init can simply run again
    // the key before the state: a device whose state exists always has its receipt key
    const deviceKey = await keyInfo(config.stateDir, config.deviceId);
    if (writeState) await saveState(config.stateDir, want);
    return { ...plan, changed: true, deviceKey };
  } finally {
    await lock.release();
  }
}

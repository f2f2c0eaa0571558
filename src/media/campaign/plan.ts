/**
 * `ferry campaign plan`: which device class gets which update of a campaign, and why each
 * other one is skipped. The campaign's updates are built as the signed manifests a build
 * would write (publish.ts buildUpdateManifest) and handed to the device's own planner
 * (device/plan.ts planInstall): the same rules as `ferry device apply`, from the same code.
 */
import { FerryError } from '../../errors.js';
import { BOOTLOADER_TYPES } from '../../device/bootloaders/registry.js';
import { type DeviceConfig, loadDeviceConfig, parseDeviceConfig } from '../../device/config.js';
import { deviceDeps } from '../../device/deps.js';
import { planInstall, type UpdateCandidate } from '../../device/plan.js';
import { emptyState, type DeviceState, loadState } from '../../device/state.js';
import type { BootState, SlotName } from '../../device/types.js';
import { MediaType } from '../../oci/types.js';
import { buildUpdateManifest } from '../publish.js';
import { publishFields } from './signing.js';
import { type Campaign, campaignUpdateId } from './types.js';

/** A device class: a compatible string and what it runs now. */
export interface DeviceClass {
  /** Where it came from: a device config file, a --device spec, or the campaign's own string. */
  source: string;
  config: DeviceConfig;
  state: DeviceState;
  booted: SlotName;
}

/** What one device class would do with the campaign. */
export interface ClassPlan {
  source: string;
  compatible: string;
  /** What it runs now: "kiosk 2.3.0 (counter 2003000)" or "nothing recorded". */
  running: string;
  /** The update it would install, or undefined. */
  installs?: string;
  /** Why nothing is installed (the planner's summary), when nothing is. */
  nothing?: { code: string; message: string };
  skipped: { id: string; code: string; message: string }[];
}

const PLACEHOLDER_IMAGE = { mediaType: MediaType.imageManifest, digest: `sha256:${'0'.repeat(64)}`, size: 1 };

/** A DeviceConfig for a class given only by its compatible string (policy defaults, like a fresh device). */
function classConfig(compatible: string): DeviceConfig {
  const v = { compatible, deviceId: 'campaign-plan', slots: { A: { type: 'dir', path: '/nonexistent/a' }, B: { type: 'dir', path: '/nonexistent/b' } }, bootloader: { type: 'file', path: '/nonexistent/boot.json' } };
  return parseDeviceConfig(v, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
}

/** One class per compatible string of the campaign, as a fresh device (nothing installed). */
export function campaignClasses(c: Campaign): DeviceClass[] {
  const strings = [...new Set(c.images.flatMap((i) => i.compatible))];
  return strings.map((s) => ({ source: 'campaign', config: classConfig(s), state: emptyState(), booted: 'A' }));
}

/** A class from `COMPATIBLE` or `COMPATIBLE=TARGET@COUNTER` (what it runs in its booted slot A). */
export function deviceClassFromSpec(spec: string): DeviceClass {
  const m = /^([^=]+)(?:=([a-z0-9][a-z0-9._-]*)@(\d{1,15}))?$/.exec(spec);
  if (!m) throw new FerryError('USAGE', `--device "${spec}" is not COMPATIBLE or COMPATIBLE=TARGET@COUNTER (e.g. "acme,kiosk-v2=kiosk@2003000")`);
  const state = emptyState();
  if (m[2] !== undefined) {
    const counter = Number(m[3]);
    state.slots.A = { status: 'good', target: m[2], counter };
    state.counterFloor[m[2]] = counter;
  }
  return { source: `--device ${spec}`, config: classConfig(m[1]!), state, booted: 'A' };
}

/** A class from a device config file, with its recorded state when its state directory is readable here. */
export async function deviceClassFromConfig(file: string): Promise<DeviceClass> {
  const config = await loadDeviceConfig(file, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
  // a missing state file is a new device; a damaged one is reported (STATE_INVALID), not planned as new
  const state = await loadState(config.stateDir);
  const booted: SlotName = config.bootedSlot ?? (state.slots.B.status === 'good' && state.slots.A.status !== 'good' ? 'B' : 'A');
  return { source: file, config, state, booted };
}

/** The campaign's updates as a device would see them after verification (signatures aside). */
export function campaignCandidates(c: Campaign, now: Date): UpdateCandidate[] {
  return c.images.map((img) => {
    const id = campaignUpdateId(img);
    try {
      const manifest = buildUpdateManifest({ ...publishFields(img), mediaRoot: '', signerDir: '', manifest: PLACEHOLDER_IMAGE, platform: { os: 'linux', architecture: 'amd64' }, payloadBytes: 1 }, now);
      return { id, manifest, signers: c.signers.map((s) => s.dir) };
    } catch (e) {
      return { id, refusal: { code: 'MANIFEST_EXPIRED' as const, message: (e as Error).message } };
    }
  });
}

function describeRunning(state: DeviceState, booted: SlotName): string {
  const r = state.slots[booted];
  if (r.target === undefined) return 'nothing recorded';
  return `${r.target}${r.version !== undefined ? ` ${r.version}` : ''}${r.counter !== undefined ? ` (counter ${r.counter})` : ''}`;
}

/** Plan the campaign for every class at time `now`, through the device's planner. */
export function planCampaign(c: Campaign, classes: DeviceClass[], now: Date): ClassPlan[] {
  const candidates = campaignCandidates(c, now);
  return classes.map((k) => {
    const bootState: BootState = { order: [k.booted, k.booted === 'A' ? 'B' : 'A'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: true, attemptsLeft: 3 } } };
    const r = planInstall({ candidates, config: k.config, state: k.state, bootState, booted: k.booted, now, targetAvailableBytes: undefined });
    const skipped = r.skipped.map((s) => ({ id: s.id, code: s.code, message: s.message }));
    const base = { source: k.source, compatible: k.config.compatible, running: describeRunning(k.state, k.booted), skipped };
    return r.kind === 'install' ? { ...base, installs: r.plan.update.id } : { ...base, nothing: { code: r.code, message: r.message } };
  });
}

/**
 * The device engine's one public face. `ferry device …` (src/cli/commands/device.ts)
 * and the terminal UI (tui/) reach the engine only through this file, so the two can
 * never disagree about a slot's state, what a stick offers, or what an action means.
 *
 *   status      what runs, each slot, the bootloader, clocks, receipts, what needs attention
 *   plan        what an apply would install from a stick, and why each other update would not
 *   apply       verify and install into the inactive slot; switch the bootloader last
 *   bootCheck   at boot: commit a pending slot after its health check, or roll back
 *   markGood / markBad / rollback   the operator's manual controls
 *   init        provision once: trust root, the bootloader's initial state, state.json
 *   events      the device's recent history (applies, boot checks, rollbacks, mark-goods)
 *   stickInfo   the stick itself: label, device, file system, size, free space, read-only
 */
import { runRebootCommand } from './commands.js';
import { type DeviceDeps, type DeviceOptions, openDevice } from './context.js';
import { deviceStatus, type StatusOptions } from './status.js';
import { type DeviceEvent, loadState } from './state.js';
import type { ReceiptDelivery } from './receipts.js';

export { applyUpdate as apply, type ApplyOptions, type ApplyResult } from './apply.js';
export { bootCheck, bootCheckError, type BootCheckOptions, type BootCheckResult } from './boot-check.js';
export { BOOTLOADER_TYPES } from './bootloaders/registry.js';
export { DEFAULT_CONFIG_FILE, loadDeviceConfig } from './config.js';
export { mediaRegistryOptions } from './media-config.js';
export type { DeviceDeps, DeviceOptions } from './context.js';
export { deviceDeps } from './deps.js';
export { type WriteMode, writeModeFor } from './reuse.js';
export { driftSlot as drift, type DriftItem, type DriftOptions, type DriftReport } from './drift.js';
export { initDevice as init, type InitOptions, type InitPlan, type InitResult } from './init.js';
export {
  type MediaSurvey,
  planMedia as plan,
  requireFerryMedia,
  surveyMedia,
  unverifiedClaims,
  verdictFor,
  verifiedCandidate,
  verifyImageBytes,
} from './inspect.js';
export {
  markBad,
  markGood,
  type MarkGoodRisk,
  markGoodRisk,
  type MaintenanceOptions,
  type MaintenanceResult,
  rollback,
  type RollbackOption,
  rollbackOption,
} from './maintenance.js';
export type { InstallPlan, PlanInputs, PlanResult, SkipReason, UpdateCandidate } from './plan.js';
export type { ChainCertificate, VerifiedSigner } from '../trust/types.js';
export type { Receipt, ReceiptDelivery } from './receipts.js';
export type { DeviceEvent, LastResult, OperatorRollback, RecordedError, SlotRecord } from './state.js';
export { attentionFor, deviceStatus as status, type DeviceStatus, formatStatus, type StatusOptions } from './status.js';
export { type StickInfo, stickInfo } from './stick.js';
export { otherSlot, SLOT_NAMES, type SlotName, type SlotStatus } from './types.js';
export { type Why, type WhyKey, WHY_VARS } from './why.js';

/** The device's recent history, oldest first (read-only, no lock: the state is replaced atomically). */
export async function events(opts: DeviceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<DeviceEvent[]> {
  const dev = await openDevice(opts, deps);
  return (await loadState(dev.config.stateDir)).events ?? [];
}

/** Write every receipt waiting in the device state to the stick at `mediaRoot` (when it is writable). */
export async function deliverReceipts(opts: StatusOptions & { mediaRoot: string }, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<ReceiptDelivery> {
  const s = await deviceStatus(opts, deps);
  return s.delivery ?? { written: [], kept: s.pendingReceipts };
}

/** Run the device's configured reboot command. */
export async function reboot(opts: DeviceOptions, deps: Pick<DeviceDeps, 'slotTypes' | 'createSlot'>): Promise<void> {
  const dev = await openDevice(opts, deps);
  await runRebootCommand(dev.config.rebootCommand);
}

/**
 * A scripted TuiEngine for unit tests of the controller and view-models only (the e2e
 * tests under test/e2e/tui-*.test.ts drive the real engine). Each call is recorded; apply
 * and verifyBlobs wait on a gate so tests can press keys mid-flight.
 */
import { FerryError } from '../../src/errors.js';
import type { ProgressFn } from '../../src/progress.js';
import type { ApplyOutcome, DeviceInfo, MaintenanceOutcome, MediaListing, PlanInfo, ReceiptsDelivered, SignatureInfo, TuiEngine } from '../../tui/engine-types.js';

export const DEVICE: DeviceInfo = {
  deviceId: 'kiosk-0042',
  compatible: 'acme,kiosk-v2',
  bootedSlot: 'A',
  slots: [
    { name: 'A', status: 'good', booted: true, version: '1.0.0', counter: 100, installedAt: '2026-11-01T10:00:00Z', bootGood: true, attemptsLeft: 3 },
    { name: 'B', status: 'empty', booted: false, bootGood: false, attemptsLeft: 0 },
  ],
  bootOrder: ['A', 'B'],
  bootloader: 'grub /boot/grub/grubenv',
  clock: '2026-11-22T01:00:00Z',
  trustedTime: '2026-11-21T09:00:00Z',
  counterFloor: 100,
  floorVersion: '1.0.0',
  pendingReceipts: 1,
  rollback: { ok: false, reason: 'slot B is empty (nothing was ever installed there), so there is nothing to go back to', why: { key: 'rollbackEmpty', vars: { slot: 'B' } } },
  markGood: {},
  history: [],
};

export const LISTING: MediaListing = {
  root: '/run/media/tech/FERRY',
  updates: [
    { id: 'kiosk-0.9.0', target: 'kiosk', version: '0.9.0', counter: 90, sizeBytes: 10_000_000, signer: 'ferry signer', expires: '2027-01-01T00:00:00Z', problem: { code: 'DOWNGRADE_REFUSED', message: 'version 0.9.0 is older than version 1.0.0 this device already ran (anti-rollback)' } },
    { id: 'kiosk-1.1.0', target: 'kiosk', version: '1.1.0', counter: 110, sizeBytes: 12_582_912, signer: 'ferry signer', expires: '2027-01-01T00:00:00Z', notes: 'Fixes the printer queue.\nFaster boot.' },
    { id: 'tablet-3.0.0', target: 'tablet', version: '3.0.0', counter: 300, sizeBytes: 50_000_000, signer: 'ferry signer', expires: '2027-01-01T00:00:00Z', problem: { code: 'INCOMPATIBLE_DEVICE', message: 'built for acme,tablet, this device is acme,kiosk-v2' } },
  ],
};

/** A gate: a promise the test resolves when it wants the engine to proceed. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** The scripted engine; tweak fields before use. */
export class FakeEngine implements TuiEngine {
  calls: string[] = [];
  applyGate = gate();
  blobsGate = gate();
  applySignal: AbortSignal | undefined;
  progress: ProgressFn | undefined;
  applyFails: FerryError | undefined;

  device: DeviceInfo = DEVICE;
  async status(): Promise<DeviceInfo> {
    this.calls.push('status');
    return this.device;
  }
  async listUpdates(root: string): Promise<MediaListing> {
    this.calls.push(`list ${root}`);
    return { ...LISTING, root };
  }
  async verifySignature(_root: string, id: string): Promise<SignatureInfo> {
    this.calls.push(`signature ${id}`);
    return { signers: ['ferry signer'], chain: ['ferry signer', 'ferry root'] };
  }
  async verifyBlobs(_root: string, id: string, progress: ProgressFn, signal: AbortSignal): Promise<void> {
    this.calls.push(`blobs ${id}`);
    progress({ step: 'verify', bytesDone: 0, bytesTotal: 12_582_912, detail: 'layer 1 of 1' });
    await this.blobsGate.wait;
    if (signal.aborted) throw new FerryError('CANCELLED', 'verification stopped');
    progress({ step: 'verify', bytesDone: 12_582_912, bytesTotal: 12_582_912 });
  }
  async plan(_root: string, id: string): Promise<PlanInfo> {
    this.calls.push(`plan ${id}`);
    return { id, fromVersion: '1.0.0', toVersion: '1.1.0', targetSlot: 'B', slotDescribe: 'dir /var/lib/slots/b', bytesToWrite: 12_582_912, notes: 'Fixes the printer queue.', signers: ['ferry signer'] };
  }
  async apply(_root: string, id: string, progress: ProgressFn, signal: AbortSignal): Promise<ApplyOutcome> {
    this.calls.push(`apply ${id}`);
    this.applySignal = signal;
    this.progress = progress;
    progress({ step: 'check', bytesDone: 0, bytesTotal: 0 });
    progress({ step: 'write', bytesDone: 1_000_000, bytesTotal: 12_582_912 });
    await this.applyGate.wait;
    if (this.applyFails) throw this.applyFails;
    if (signal.aborted) throw new FerryError('CANCELLED', 'apply cancelled before the bootloader switch; slot B left marked bad');
    progress({ step: 'sync', bytesDone: 12_582_912, bytesTotal: 12_582_912 });
    progress({ step: 'bootloader', bytesDone: 0, bytesTotal: 0 });
    return { slot: 'B', version: '1.1.0', receiptPath: '/run/media/tech/FERRY/receipts/kiosk-0042/x-apply.json' };
  }
  async markGood(_root?: string, force?: boolean): Promise<MaintenanceOutcome> {
    this.calls.push(force ? 'markGood --force' : 'markGood');
    return { action: 'mark-good', slot: 'B', version: '1.1.0', ...(force ? { forced: true } : {}), floor: true, floorVersion: '1.1.0', message: '<engine text>', receiptWait: { kept: 1 } };
  }
  async rollback(): Promise<MaintenanceOutcome> {
    this.calls.push('rollback');
    return { action: 'rollback', slot: 'A', version: '1.0.0', from: { slot: 'B', version: '1.1.0' }, message: '<engine text>', receiptWait: { kept: 1 } };
  }
  async deliverReceipts(root: string): Promise<ReceiptsDelivered> {
    this.calls.push(`deliver ${root}`);
    return { written: [], kept: 0 };
  }
  async reboot(): Promise<void> {
    this.calls.push('reboot');
  }
}

/** The device after a reboot into 1.1.0 in slot B, whose boot check has not passed: the running slot is on trial. */
export const PENDING_DEVICE: DeviceInfo = {
  ...DEVICE,
  bootedSlot: 'B',
  slots: [
    { name: 'A', status: 'good', booted: false, version: '1.0.0', bootGood: true, attemptsLeft: 3 },
    { name: 'B', status: 'pending', booted: true, version: '1.1.0', bootGood: true, attemptsLeft: 2 },
  ],
  attention: 'the running slot B (1.1.0) is a pending update',
  rollback: { ok: true, slot: 'A', version: '1.0.0' },
  markGood: { floor: true, floorVersion: '1.1.0' },
};

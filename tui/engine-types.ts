/**
 * The narrow view of the device engine that the terminal UI needs. The UI is a client
 * of src/ only: `tui/engine.ts` maps these calls onto the same library functions that
 * `ferry device …` uses. Types here are plain data, so the view-models stay pure.
 */
import type { ErrorCode } from '../src/errors.js';
import type { ProgressFn } from '../src/progress.js';
import type { ChainCertificate, RollbackOption, SlotName, SlotStatus, StickInfo, VerifiedSigner as SignerDetail, Why } from '../src/device/index.js';

/** One A/B slot as the technician sees it. */
export interface SlotInfo {
  name: SlotName;
  status: SlotStatus;
  booted: boolean;
  version?: string;
  counter?: number;
  digest?: string;
  installedAt?: string;
  /** Bootloader view: committed, and boot attempts left. */
  bootGood?: boolean;
  attemptsLeft?: number;
  /** e.g. "dir /var/lib/slots/b". */
  describe?: string;
  /** Why the slot was marked bad or failed its check (the full text). */
  lastError?: { code: string; message: string; at?: string };
}

/** One entry of the device's persistent history (state.json events). */
export interface HistoryEntry {
  at: string;
  action: string;
  ok: boolean;
  result: string;
  version?: string;
  slot?: SlotName;
  code?: string;
  message?: string;
  /** Where the receipt went, once delivered to a stick. */
  deliveredTo?: string;
  /** The receipt is still waiting in the device for a writable stick. */
  waiting?: boolean;
}

/** The last install/rollback/boot-check outcome recorded by the device. */
export interface LastResult {
  action: string;
  ok: boolean;
  at?: string;
  version?: string;
  code?: string;
  message?: string;
}

/** Everything screen 1 shows. */
export interface DeviceInfo {
  deviceId: string;
  compatible: string;
  bootedSlot: SlotName;
  slots: SlotInfo[];
  bootOrder: SlotName[];
  bootloader: string;
  /** Why the bootloader's state could not be read (the engine's text), when it could not. */
  bootloaderError?: string;
  /** Device clock, ISO. */
  clock: string;
  /** Newest trusted time the device has seen, ISO. */
  trustedTime?: string;
  /** Anti-rollback floor for this device's target(s). */
  counterFloor?: number;
  lastResult?: LastResult;
  pendingReceipts: number;
  /** Set when the running slot is pending or bad: the engine's words for it (the CLI's; screens say it from the catalogue). */
  attention?: string;
  /** Whether rolling back is possible, to what, or why not (the engine's rule, with its reason as data). */
  rollback: RollbackOption;
  /** What marking the running slot good overrides and raises: `floor` set when the floor rises, to `floorVersion` when known. */
  markGood: { failedCheck?: { message: string; at?: string }; floor?: boolean; floorVersion?: string };
  /** The operator's last rollback. */
  operatorRollback?: { at: string; fromSlot: SlotName; fromVersion?: string; toSlot: SlotName; toVersion?: string };
  /** The anti-rollback floor as a version a technician recognises, when known. */
  floorVersion?: string;
  /** The device's recent history, oldest first. */
  history: HistoryEntry[];
  lastBootCheck?: HistoryEntry;
}

/** Why an update on the stick cannot be installed: the code, the engine's message, and its reason as data when it has one. */
export interface NotApplicable {
  code: ErrorCode;
  message: string;
  why?: Why;
}

/** Why receipts wait on the device: how many, and the code and text of what stopped them (none: no stick was given). */
export interface ReceiptWait {
  kept: number;
  code?: string;
  detail?: string;
}

/** One signer of an update, in full (the verifier's own record), and one certificate of its chain. */
export type { ChainCertificate, SignerDetail };

/** The stick itself: label, device, file system, size, free space, read-only. */
export type StickDescription = Omit<StickInfo, 'root'>;

/** One update found on the stick, with its verdict. */
export interface UpdateEntry {
  id: string;
  target: string;
  version: string;
  counter?: number;
  /** payloadBytes from the manifest. */
  sizeBytes?: number;
  /** Signer subject common name(s), when the signature verified far enough to say. */
  signer?: string;
  created?: string;
  expires?: string;
  notes?: string;
  /** undefined when installable. */
  problem?: NotApplicable;
  signerDetails?: SignerDetail[];
}

/** The listing of one stick. */
export interface MediaListing {
  root: string;
  updates: UpdateEntry[];
  /** The stick holds no usable FERRY folder (or it is unreadable). */
  problem?: NotApplicable;
  /** The update the engine would choose (`ferry device apply` without --update). */
  chosenId?: string;
  stick?: StickDescription;
}

/** Result of checking an update's signature and chain (screen 3, first half). */
export interface SignatureInfo {
  signers: string[];
  /** e.g. ["ferry signer 2026", "ferry root"] */
  chain: string[];
  /** Evaluation time used (max of clock and trusted time). */
  checkedAt?: string;
  details?: SignerDetail[];
}

/** The install plan, as screen 4 shows it. */
export interface PlanInfo {
  id: string;
  fromVersion?: string;
  toVersion: string;
  targetSlot: SlotName;
  slotDescribe?: string;
  bytesToWrite: number;
  /** Space the image needs in the slot (unpacked or payload), and what the slot has free. */
  neededBytes?: number;
  availableBytes?: number;
  notes?: string;
  signers: string[];
  /** An incremental write: the file bytes written of the image's total. */
  incremental?: { changedBytes: number; totalBytes: number };
}

/** Result of a finished apply (screen 6). */
export interface ApplyOutcome {
  slot: SlotName;
  version: string;
  /** Boot attempts the new version gets before the bootloader falls back. */
  attempts?: number;
  /** Receipt written to the stick (path), or why not. */
  receiptPath?: string;
  receiptWait?: ReceiptWait;
}

/** Result of mark-good / rollback (screen 7): what was done, as data; `message` is the engine's English for the CLI. */
export interface MaintenanceOutcome {
  action: 'mark-good' | 'rollback';
  slot: SlotName;
  version?: string;
  /** mark-good: committed despite a failed health check. */
  forced?: boolean;
  /** mark-good: the floor rose (to `floorVersion` when known). */
  floor?: boolean;
  floorVersion?: string;
  /** rollback: from which slot and version. */
  from?: { slot: SlotName; version?: string };
  message: string;
  /** The receipt file on the stick, or why it waits on the device. */
  receiptPath?: string;
  receiptWait?: ReceiptWait;
}

/** Receipts written to a stick from the device's waiting queue. */
export interface ReceiptsDelivered {
  written: string[];
  kept: number;
  problem?: ReceiptWait;
}

/** The calls the UI makes; every one throws FerryError on failure. */
/** What `ferry device drift --fast` found on the running slot. */
export interface DriftSummary {
  version?: string;
  clean: boolean;
  /** All differences (items may list fewer). */
  count: number;
  items: Array<{ path: string; change: 'added' | 'removed' | 'content' | 'metadata'; details?: string[] }>;
}

export interface TuiEngine {
  status(): Promise<DeviceInfo>;
  /** Compare the running slot with its image's file index (optional: engines without it show no Files line). */
  drift?(): Promise<DriftSummary>;
  listUpdates(mediaRoot: string): Promise<MediaListing>;
  verifySignature(mediaRoot: string, id: string): Promise<SignatureInfo>;
  /** Read and hash every blob of the update; progress per blob. */
  verifyBlobs(mediaRoot: string, id: string, progress: ProgressFn, signal: AbortSignal): Promise<void>;
  plan(mediaRoot: string, id: string): Promise<PlanInfo>;
  /** Apply; must honour `signal` until the bootloader switch and leave the device as before. */
  apply(mediaRoot: string, id: string, progress: ProgressFn, signal: AbortSignal): Promise<ApplyOutcome>;
  /** `mediaRoot`: a stick to write the receipt to, when one is plugged in; `force`: the second confirmation after a failed check. */
  markGood(mediaRoot?: string, force?: boolean): Promise<MaintenanceOutcome>;
  rollback(mediaRoot?: string): Promise<MaintenanceOutcome>;
  /** Write the receipts waiting in the device to the stick (when it is writable). */
  deliverReceipts(mediaRoot: string): Promise<ReceiptsDelivered>;
  reboot(): Promise<void>;
}

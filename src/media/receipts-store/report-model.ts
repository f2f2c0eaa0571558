/**
 * The fleet report as data (issue 15): per device the latest known state from its counted
 * receipts, per site and per campaign target the counts, the devices that need a visit, and the
 * receipts left out (bad signature, unenrolled key, unsigned). Receipts are fed oldest first per
 * device; the builder keeps a compact history per device, not the receipts. Pure.
 */
import type { ReceiptFacts } from './facts.js';
import { counts, type StoredSig, type Verdict, verdictOf, type VerdictPolicy } from './verdict.js';

/** A device's latest known state. */
export type DeviceStateName = 'running' | 'pending' | 'apply-failed' | 'health-check-failed' | 'rolled-back' | 'unverified' | 'never-seen';
/** Every state, in the order reports list them. */
export const DEVICE_STATES: readonly DeviceStateName[] = ['running', 'pending', 'apply-failed', 'health-check-failed', 'rolled-back', 'unverified', 'never-seen'];

/** One receipt in a device's history. */
export interface HistoryEntry {
  at: string;
  action: string;
  result: string;
  version?: string;
  verdict: Verdict;
  message?: string;
}

/** One device row. */
export interface DeviceRow {
  deviceId: string;
  site: string;
  compatible: string;
  state: DeviceStateName;
  running?: string;
  pending?: string;
  /** The version the last apply or boot check was about. */
  attempted?: string;
  reason?: string;
  /** The last drift check's verdict since the last commit (undefined: none). */
  drifted?: boolean;
  lastSeen?: string;
  receipts: number;
  excluded: number;
  /** Why the device needs a visit, if it does. */
  visit?: string;
  history: HistoryEntry[];
}

/** A receipt left out of the counts. */
export interface ExcludedReceipt {
  deviceId: string;
  stamp: string;
  action: string;
  verdict: Verdict;
  why: string;
  source: string;
}

/** A campaign image as the report needs it. */
export interface ReportTarget {
  target: string;
  version: string;
  compatible: string[];
}

/** Per target of a campaign: how far the update got. */
export type TargetStatus = 'updated' | 'pending' | 'failed' | 'rolled-back' | 'not-reached';
/** The statuses, in summary-bar order. */
export const TARGET_STATUSES: readonly TargetStatus[] = ['updated', 'pending', 'failed', 'rolled-back', 'not-reached'];

/** One campaign target's counts and its devices by status. */
export interface TargetSummary extends ReportTarget {
  updateId: string;
  counts: Record<TargetStatus, number>;
  devices: Record<TargetStatus, string[]>;
}

/** One site's counts. */
export interface SiteSummary {
  site: string;
  devices: number;
  states: Record<DeviceStateName, number>;
  visits: number;
}

/** The whole report. */
export interface FleetReport {
  generatedAt: string;
  since?: string;
  enrolmentChecked: boolean;
  acceptUnsigned: boolean;
  receipts: { total: number; counted: number; excluded: Record<Verdict, number> };
  devices: DeviceRow[];
  sites: SiteSummary[];
  campaign?: { name: string; targets: TargetSummary[] };
  visits: Array<{ deviceId: string; site: string; why: string }>;
  excluded: ExcludedReceipt[];
  /** Excluded receipts beyond the listed ones. */
  excludedNotListed: number;
}

/** Excluded receipts listed one by one (the counts stay complete). */
const MAX_EXCLUDED_LISTED = 1000;
/** History entries kept per device (the newest). */
const MAX_HISTORY = 50;

const otherSlot = (s: unknown) => (s === 'A' ? 'B' : 'A');

/** Apply one counted receipt to the device's state (see the README's "Receipts at HQ" for the rules). */
function advance(d: DeviceRow, r: ReceiptFacts): void {
  const ver = (slot: unknown) => (slot === 'B' ? r.afterB : r.afterA);
  const reason = r.rollbackReason ?? r.errorMessage ?? r.message;
  switch (r.action) {
    case 'apply':
      d.running = ver(r.bootedSlot);
      if (r.result === 'success') Object.assign(d, { state: 'pending', pending: r.version, attempted: r.version, reason: undefined });
      else if (r.result === 'failure' || r.result === 'cancelled') Object.assign(d, { state: 'apply-failed', pending: undefined, attempted: r.version, reason });
      else if (d.state === 'unverified') d.state = 'running';
      return;
    case 'boot-check':
      d.attempted = r.version ?? d.attempted;
      d.pending = undefined;
      if (r.result === 'rolled-back') Object.assign(d, { state: 'rolled-back', running: ver(otherSlot(r.targetSlot ?? r.bootedSlot)), reason });
      else if (r.result === 'failure') Object.assign(d, { state: 'health-check-failed', running: ver(r.bootedSlot), reason });
      else Object.assign(d, { state: 'running', running: ver(r.bootedSlot), reason: undefined, drifted: undefined });
      return;
    case 'mark-good':
      Object.assign(d, { state: 'running', running: ver(r.bootedSlot), pending: undefined, reason: undefined });
      return;
    case 'mark-bad':
    case 'rollback':
      Object.assign(d, { state: 'rolled-back', running: r.rollbackTo ?? ver(otherSlot(r.targetSlot)), pending: undefined, reason: `${r.action} by operator${r.message ? `: ${r.message}` : ''}` });
      return;
    case 'drift':
      d.drifted = r.result === 'failure';
      if (d.drifted) d.reason = r.message;
      if (d.state === 'unverified') Object.assign(d, { state: 'running', running: ver(r.bootedSlot) });
      return;
  }
}

/** Why a device needs a visit, or undefined. */
function visitOf(d: DeviceRow): string | undefined {
  switch (d.state) {
    case 'apply-failed': return `apply of ${d.attempted ?? '?'} failed: ${d.reason ?? ''}`;
    case 'health-check-failed': return `${d.attempted ?? '?'} failed its health check, no fallback: ${d.reason ?? ''}`;
    case 'rolled-back': return `rolled back from ${d.attempted ?? '?'} to ${d.running ?? '?'}: ${d.reason ?? ''}`;
    case 'unverified': return `none of its ${d.receipts} receipt(s) could be trusted: enrol the device or check it for tampering`;
    case 'never-seen': return 'enrolled but no receipt yet';
    default:
      if (d.drifted) return `drifted: ${d.reason ?? 'files differ from the installed image'}`;
      return undefined;
  }
}

/** Feeds receipts in, builds the report out. */
export class FleetReportBuilder {
  private readonly devices = new Map<string, DeviceRow>();
  private readonly excluded: ExcludedReceipt[] = [];
  private readonly tally = { total: 0, counted: 0, excluded: { verified: 0, signed: 0, unenrolled: 0, 'bad-signature': 0, unsigned: 0 } as Record<Verdict, number> };
  private notListed = 0;

  constructor(private readonly policy: VerdictPolicy) {}

  /** Add one stored receipt (oldest first per device): its facts (taken at collect, after the schema), `sig` its signature check. */
  add(receipt: ReceiptFacts, sig: StoredSig, source: string, site: string): void {
    this.tally.total++;
    let d = this.devices.get(receipt.deviceId);
    if (d === undefined) {
      d = { deviceId: receipt.deviceId, site, compatible: receipt.compatible, state: 'unverified', receipts: 0, excluded: 0, history: [] };
      this.devices.set(receipt.deviceId, d);
    }
    const { verdict, why } = verdictOf(sig, receipt.deviceId, this.policy);
    d.receipts++;
    // a receipt that does not count moves neither the site nor "last seen" of a device that has counted ones
    if (counts(verdict, this.policy) || d.state === 'unverified') Object.assign(d, { site, lastSeen: receipt.finishedAt });
    d.history.push({ at: receipt.finishedAt, action: receipt.action, result: receipt.result, verdict, ...(receipt.version ? { version: receipt.version } : {}), ...(receipt.rollbackReason ?? receipt.message ? { message: receipt.rollbackReason ?? receipt.message } : {}) });
    if (d.history.length > MAX_HISTORY) d.history.shift();
    if (counts(verdict, this.policy)) {
      this.tally.counted++;
      d.compatible = receipt.compatible;
      advance(d, receipt);
      return;
    }
    this.tally.excluded[verdict]++;
    d.excluded++;
    if (this.excluded.length < MAX_EXCLUDED_LISTED) this.excluded.push({ deviceId: receipt.deviceId, stamp: receipt.stamp, action: receipt.action, verdict, why: why ?? verdict, source });
    else this.notListed++;
  }

  /** The report: `enrolledDevices` adds never-seen devices; `campaign` adds per-target counts. */
  finish(opts: { now: Date; since?: Date; enrolledDevices?: Iterable<string>; campaign?: { name: string; targets: ReportTarget[] } }): FleetReport {
    for (const id of opts.enrolledDevices ?? []) {
      if (!this.devices.has(id)) this.devices.set(id, { deviceId: id, site: '(unknown)', compatible: '', state: 'never-seen', receipts: 0, excluded: 0, history: [] });
    }
    const devices = [...this.devices.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    for (const d of devices) {
      const v = visitOf(d);
      if (v !== undefined) d.visit = v;
    }
    return {
      generatedAt: opts.now.toISOString(),
      ...(opts.since ? { since: opts.since.toISOString() } : {}),
      enrolmentChecked: this.policy.enrolled !== undefined,
      acceptUnsigned: Boolean(this.policy.acceptUnsigned),
      receipts: this.tally,
      devices,
      sites: siteSummaries(devices),
      ...(opts.campaign ? { campaign: { name: opts.campaign.name, targets: opts.campaign.targets.map((t) => targetSummary(t, devices)) } } : {}),
      visits: devices.filter((d) => d.visit !== undefined).map((d) => ({ deviceId: d.deviceId, site: d.site, why: d.visit! })),
      excluded: this.excluded,
      excludedNotListed: this.notListed,
    };
  }
}

function emptyStates(): Record<DeviceStateName, number> {
  return Object.fromEntries(DEVICE_STATES.map((s) => [s, 0])) as Record<DeviceStateName, number>;
}

function siteSummaries(devices: DeviceRow[]): SiteSummary[] {
  const by = new Map<string, SiteSummary>();
  for (const d of devices) {
    let s = by.get(d.site);
    if (!s) by.set(d.site, (s = { site: d.site, devices: 0, states: emptyStates(), visits: 0 }));
    s.devices++;
    s.states[d.state]++;
    if (d.visit !== undefined) s.visits++;
  }
  return [...by.values()].sort((a, b) => (a.site < b.site ? -1 : 1));
}

/** Where one device stands for one campaign target. */
export function targetStatusOf(d: DeviceRow, t: ReportTarget): TargetStatus {
  if (d.running === t.version && d.state !== 'apply-failed' && d.state !== 'health-check-failed') return 'updated';
  if (d.state === 'pending' && d.pending === t.version) return 'pending';
  if (d.attempted === t.version && d.state === 'rolled-back') return 'rolled-back';
  if (d.attempted === t.version && (d.state === 'apply-failed' || d.state === 'health-check-failed')) return 'failed';
  return 'not-reached';
}

function targetSummary(t: ReportTarget, devices: DeviceRow[]): TargetSummary {
  const out: TargetSummary = {
    ...t, updateId: `${t.target}-${t.version}`,
    counts: Object.fromEntries(TARGET_STATUSES.map((s) => [s, 0])) as Record<TargetStatus, number>,
    devices: Object.fromEntries(TARGET_STATUSES.map((s) => [s, []])) as unknown as Record<TargetStatus, string[]>,
  };
  for (const d of devices) {
    // an unverified device's class comes from receipts nobody can trust: it is not counted
    if (d.state === 'unverified' || !t.compatible.includes(d.compatible)) continue;
    const s = targetStatusOf(d, t);
    out.counts[s]++;
    out.devices[s].push(d.deviceId);
  }
  return out;
}

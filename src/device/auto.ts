/**
 * `ferry device auto`: the hands-free install when a site manager plugs a stick into a kiosk
 * without keyboard or technician (started by ferry-auto@.service when the config says
 * `"onInsert": "auto"`). It verifies the stick, takes the update the planner chooses (never a
 * downgrade of the running slot, never without `requiredSigners`: the planner and verifier
 * enforce those), and installs it inside the maintenance window. Outside the window the update
 * is staged in the state as `pendingApply` and the process waits; when the window opens and the
 * stick is still in, it verifies again and installs. A stick pulled meanwhile stops the service
 * (SIGTERM): the staged entry stays, and the next insertion verifies again. Reboots only with
 * `"reboot": "auto"`. The install itself is injected (log lines, or the TUI's Apply screen).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, type ErrorCode } from '../errors.js';
import { isRegistryMedia } from '../media/registry-media.js';
import { windowStatus } from './auto-config.js';
import { runRebootCommand } from './commands.js';
import { type DeviceDeps, type DeviceOptions, openDevice } from './context.js';
import { planMedia } from './inspect.js';
import { acquireLock } from './lock.js';
import type { InstallPlan } from './plan.js';
import { type DeviceState, loadState, saveState, type SlotRecord } from './state.js';

/** An update verified outside the window, waiting for it (kept in state.json). */
export interface PendingApply {
  updateId: string;
  version: string;
  counter: number;
  mediaRoot: string;
  stagedAt: string;
  opensAt: string;
}

type AutoState = DeviceState & { pendingApply?: PendingApply };

/** How auto ended. */
export type AutoOutcome =
  | { kind: 'installed'; updateId: string; version: string; slot: string; rebooted: boolean }
  | { kind: 'nothing'; code: ErrorCode; message: string }
  | { kind: 'stick-removed'; updateId: string; opensAt: string };

/** What auto tells its console or log as it goes. */
export type AutoEvent = { kind: 'chosen'; plan: InstallPlan } | { kind: 'staged'; pending: PendingApply } | { kind: 'window-open' } | { kind: 'rebooting' };

/** Options of autoApply. */
export interface AutoOptions extends DeviceOptions {
  mediaRoot: string;
  /** Install `plan.update.id` (verifies again while writing); the CLI logs progress or draws the Apply screen. */
  install: (plan: InstallPlan) => Promise<{ slot: string }>;
  report?: (e: AutoEvent) => void;
  signal?: AbortSignal;
  clock?: () => Date;
  /** Wait `ms` or until `signal` aborts (default: a timer). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Numeric-aware version order ("1.10.0" > "1.9.2"); only used when counters are unknown. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** True when installing `plan` would go below what runs now (counter first, else version). */
export function isDowngrade(plan: InstallPlan, running: SlotRecord): boolean {
  const t = plan.update.target;
  if (running.counter !== undefined) return t.counter <= running.counter;
  return running.version !== undefined && compareVersions(t.version, running.version) <= 0;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

async function updateState(stateDir: string, change: (s: AutoState) => void): Promise<void> {
  const lock = await acquireLock(stateDir, 'device auto');
  try {
    const s: AutoState = await loadState(stateDir);
    change(s);
    await saveState(stateDir, s);
  } finally {
    await lock.release();
  }
}

// a site registry (docker://) is not pulled out: it stays "present"; the next verification finds out whether it answers
const stickPresent = (root: string) => (isRegistryMedia(root) ? Promise.resolve(true) : fsp.stat(path.join(root, 'FERRY')).then((s) => s.isDirectory(), () => false));

/** Verify, choose, wait for the window, install, maybe reboot (see the file comment). */
export async function autoApply(o: AutoOptions, deps: DeviceDeps): Promise<AutoOutcome> {
  const clock = o.clock ?? (() => new Date());
  const sleep = o.sleep ?? defaultSleep;
  const dev = await openDevice(o, deps);
  const { stateDir, auto } = dev.config;
  for (;;) {
    const { result } = await planMedia(o, deps, o.mediaRoot, clock());
    if (result.kind === 'nothing') return { kind: 'nothing', code: result.code, message: result.message };
    const plan = result.plan;
    const running = (await loadState(stateDir)).slots[dev.booted];
    if (isDowngrade(plan, running)) {
      return { kind: 'nothing', code: 'NO_APPLICABLE_UPDATE', message: `${plan.update.id} (${plan.update.target.version}) is not newer than the running ${running.version ?? 'system'}: an unattended install never goes back` };
    }
    o.report?.({ kind: 'chosen', plan });
    const w = windowStatus(auto.window, clock());
    if (w.open) {
      const done = await o.install(plan);
      await updateState(stateDir, (s) => delete s.pendingApply);
      const rebooted = auto.reboot === 'auto';
      if (rebooted) {
        o.report?.({ kind: 'rebooting' });
        await runRebootCommand(dev.config.rebootCommand);
      }
      return { kind: 'installed', updateId: plan.update.id, version: plan.update.target.version, slot: done.slot, rebooted };
    }
    const t = plan.update.target;
    const pending: PendingApply = { updateId: plan.update.id, version: t.version, counter: t.counter, mediaRoot: o.mediaRoot, stagedAt: clock().toISOString(), opensAt: w.opensAt.toISOString() };
    await updateState(stateDir, (s) => (s.pendingApply = pending));
    o.report?.({ kind: 'staged', pending });
    await sleep(Math.max(0, w.opensAt.getTime() - clock().getTime()), o.signal);
    if (o.signal?.aborted || !(await stickPresent(o.mediaRoot))) return { kind: 'stick-removed', updateId: pending.updateId, opensAt: pending.opensAt };
    o.report?.({ kind: 'window-open' });
    // the loop verifies the stick again: it may have been swapped while it waited
  }
}

/** The exit of `ferry device auto` for a nothing-to-do outcome is a FerryError with its code. */
export function autoOutcomeError(r: AutoOutcome): FerryError | undefined {
  return r.kind === 'nothing' ? new FerryError(r.code, r.message) : undefined;
}

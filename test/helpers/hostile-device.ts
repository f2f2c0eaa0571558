/**
 * The device side of the hostile-stick corpus: a "jail" device (test/helpers/device.ts,
 * file bootloader, dir slots) with a populated running slot and a canary tree AROUND the
 * slots (a sibling of the slot dirs, a sibling of the state dir, the trust folder), a
 * snapshot of everything that must not change, and the two ways to run an apply: the
 * library (`applyUpdate`) or the built CLI. A FIFO on a stick blocks a reader in open(2)
 * for ever; the watchdog opens the write end after a while so a hang becomes a failed
 * assertion instead of a stuck test run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import type { SlotName } from '../../src/device/types.js';
import { ERROR_CODES, type ErrorCode, toFerryError } from '../../src/errors.js';
import { snapshotTree, type TreeSnapshot } from '../device/extract/tree-snapshot.js';
import { MAIN, NODE } from '../e2e/device-run.js';
import { makeDevice, type TestDevice } from './device.js';
import type { StickKit } from './device-stick.js';

export const CANARY = 'canary: an attacker wants this file\n';

/** A test device with canaries around its slots. */
export interface Jail {
  dev: TestDevice;
  /** Which slot runs and which one an apply writes (a case may boot the other one first). */
  running: SlotName;
  target: SlotName;
  /** The slot directories as configured (a case may move one onto a small file system). */
  slotDirs: Record<SlotName, string>;
  slotDir(s: SlotName): string;
  /** Canary folders: beside the slots, beside the state dir. Attacks aim here. */
  slotsCanary: string;
  rootCanary: string;
  /** Extra cleanup (unmounts) run before the device is removed. */
  onCleanup: Array<() => Promise<void>>;
}

/** What must not change while a hostile stick is applied. */
export interface JailSnapshot {
  running: TreeSnapshot;
  trust: TreeSnapshot;
  around: TreeSnapshot;
}

async function put(root: string, rel: string, data: string, mode = 0o644): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fsp.writeFile(path.join(root, rel), data, { mode });
}

/** A small running system: the slot an attacker wants to overwrite. */
async function populateRunning(dir: string): Promise<void> {
  await put(dir, 'etc/os-release', 'ID=kiosk\nVERSION_ID=1.0.0\n');
  await put(dir, 'etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
  await put(dir, 'usr/bin/app', '#!/bin/sh\necho running\n', 0o755);
  await put(dir, 'usr/lib/libc.so.6', 'libc');
  await fsp.symlink('usr/lib', path.join(dir, 'lib'));
}

/** A device booted from A whose slot A holds a system, with canaries around both slots. */
export async function makeJail(kit: StickKit, extra: Record<string, unknown> = {}): Promise<Jail> {
  const dev = await makeDevice({ kind: 'file', extra: { deviceId: 'hostile-corpus', ...extra } });
  await kit.installTrust(dev.trustDir);
  const slotDirs: Record<SlotName, string> = { A: path.join(dev.root, 'slots', 'a'), B: path.join(dev.root, 'slots', 'b') };
  await fsp.mkdir(slotDirs.B, { recursive: true });
  await populateRunning(slotDirs.A);
  const slotsCanary = path.join(dev.root, 'slots', 'canary');
  const rootCanary = path.join(dev.root, 'canary');
  for (const c of [slotsCanary, rootCanary]) {
    await put(c, 'canary', CANARY);
    await put(c, 'etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
  }
  return { dev, running: 'A', target: 'B', slotDirs, slotDir: (s) => slotDirs[s], slotsCanary, rootCanary, onCleanup: [] };
}

/** Remove the jail (after its own cleanups, e.g. unmounts). */
export async function removeJail(j: Jail): Promise<void> {
  for (const f of j.onCleanup.reverse()) await f();
  await j.dev.cleanup();
}

/**
 * Snapshot the running slot, the trust folder and everything around the slots (one walk,
 * one getfattr run), split into the three parts for readable failures.
 */
export function snapshotJail(j: Jail): JailSnapshot {
  const rel = (p: string) => path.relative(j.dev.root, p);
  const all = snapshotTree(j.dev.root, [rel(j.slotDir(j.target)), rel(j.dev.stateDir), 'boot']);
  const under = (k: string, p: string) => k === p || k.startsWith(`${p}/`);
  const part = (keep: (k: string) => boolean): TreeSnapshot => ({
    nodes: Object.fromEntries(Object.entries(all.nodes).filter(([k]) => keep(k))),
    hardlinks: all.hardlinks.filter((g) => g.some(keep)),
  });
  const running = rel(j.slotDir(j.running));
  const trust = rel(j.dev.trustDir);
  return { running: part((k) => under(k, running)), trust: part((k) => under(k, trust)), around: part((k) => !under(k, running) && !under(k, trust)) };
}

/** How one apply ended. */
export interface Outcome {
  /** The error code, or 'ok'. */
  code: ErrorCode | 'ok' | 'HUNG' | 'CRASHED';
  message: string;
  /** CLI only. */
  exit?: number | null;
  stdout?: string;
  stderr?: string;
}

/**
 * Open the write end of every FIFO that has a reader blocked on it, once `afterMs` has
 * passed: the blocked open(2) returns, and `hung()` tells the test it happened.
 */
export function fifoWatchdog(fifos: string[], afterMs = 4000): { stop(): void; hung(): string[] } {
  const hung: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    timer = setInterval(() => {
      for (const f of fifos) {
        try {
          fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
          if (!hung.includes(f)) hung.push(f);
        } catch {
          // ENXIO: nobody is blocked reading it
        }
      }
    }, 100);
  }, afterMs);
  return {
    stop: () => (clearTimeout(start), timer && clearInterval(timer)),
    hung: () => hung,
  };
}

/** Apply `media` through the library, with a FIFO watchdog. */
export async function applyLib(j: Jail, media: string, fifos: string[] = []): Promise<Outcome> {
  const dog = fifoWatchdog(fifos);
  try {
    const r = await applyUpdate({ ...j.dev.opts, mediaRoot: media }, deviceDeps);
    if (dog.hung().length) return { code: 'HUNG', message: `blocked opening ${dog.hung().join(', ')}` };
    return { code: 'ok', message: `installed ${r.plan.update.id} into ${r.plan.target}` };
  } catch (e) {
    if (dog.hung().length) return { code: 'HUNG', message: `blocked opening ${dog.hung().join(', ')}` };
    const fe = toFerryError(e);
    return { code: fe.code, message: fe.message };
  } finally {
    dog.stop();
  }
}

/** Options of a CLI run. */
export interface CliRun {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Run on a pseudo terminal (script(1)) answering this, instead of --yes. */
  ttyAnswer?: string;
}

/** Apply `media` with the built `ferry device apply` (human output); a run past the timeout is killed and reported HUNG. */
export function applyCli(j: Jail, media: string, o: CliRun = {}): Outcome {
  const args = [MAIN, 'device', 'apply', '--media', media, '--config', j.dev.configFile];
  const env = { ...process.env, FERRY_CMDLINE_FILE: j.dev.cmdlineFile, ...o.env };
  const opts = { encoding: 'utf8' as const, env, timeout: o.timeoutMs ?? 60_000, killSignal: 'SIGKILL' as const };
  const r =
    o.ttyAnswer === undefined
      ? spawnSync(NODE, [...args, '--yes'], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawnSync('script', ['-qec', [NODE, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { ...opts, input: o.ttyAnswer });
  const out = { exit: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') return { code: 'HUNG', message: `killed after ${opts.timeout} ms`, ...out };
  const m = /error\[([A-Z_]+)\]: (.*)/.exec(`${out.stderr}\n${out.stdout}`);
  if (r.status === 0) return { code: 'ok', message: out.stdout.trim(), ...out };
  if (!m) return { code: 'CRASHED', message: `exit ${r.status} signal ${r.signal}: ${out.stderr.slice(-400)}`, ...out };
  return { code: m[1] as ErrorCode, message: m[2]!, ...out };
}

/** The exit code the CLI must use for `code`. */
export function exitCodeOf(code: ErrorCode | 'ok'): number {
  return code === 'ok' ? 0 : ERROR_CODES[code];
}

/** Terminal control put into stick strings: erase the line, move up, set the window title, bell, bidi override, a C1 CSI. */
export const ESCAPES = '\u001b[2K\r\u001b[1A\u001b]0;owned\u0007\u202e\u009b31m';
/**
 * Fragments of ESCAPES that must never reach a terminal, checked where the terminal itself
 * also writes control (under script(1), readline draws the prompt with its own escapes).
 */
export const ESCAPE_MARKERS = ['\u001b[2K\r\u001b[1A', '\u001b]0;owned', '\u0007', '\u202e', '\u009b31m'];

/** Terminal control a stick must never get onto the technician's screen: C0 but \t \n, DEL, C1, and bidi overrides. */
export const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** The first control character in `s` with some context, or undefined. */
export function findControl(s: string): string | undefined {
  const m = CONTROL_RE.exec(s);
  return m ? JSON.stringify(s.slice(Math.max(0, m.index - 40), m.index + 20)) : undefined;
}

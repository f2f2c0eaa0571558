/**
 * Helpers shared by the bootloader backends: parameter checks, boot order
 * normalisation, and running the tools they drive (fw_printenv, custom scripts).
 */
import { spawn } from 'node:child_process';
import { FerryError } from '../../errors.js';
import type { BootloaderConfig } from '../config.js';
import { otherSlot, SLOT_NAMES, type SlotName } from '../types.js';

/** What a bootloader factory gets besides its config section. */
export interface BootloaderContext {
  stateDir: string;
}

/** A bootloader factory: validates its parameters and returns the backend. */
export type BootloaderFactory = (cfg: BootloaderConfig, ctx: BootloaderContext) => import('../types.js').Bootloader;

/** A required string parameter of a bootloader section. */
export function requireParam(cfg: BootloaderConfig, key: string): string {
  const v = cfg[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new FerryError('CONFIG_INVALID', `bootloader "${cfg.type}" needs the string parameter "${key}"`);
  }
  return v;
}

/** Parse a boot order ("A B", "B A", "B") into both slots, listed ones first. */
export function parseOrder(text: string | undefined): SlotName[] {
  const listed = (text ?? '').split(/\s+/).filter((s): s is SlotName => s === 'A' || s === 'B');
  const unique = [...new Set(listed)];
  for (const s of SLOT_NAMES) if (!unique.includes(s)) unique.push(s);
  return unique;
}

/** `slot` first, the other second, as a space-separated order. */
export function orderWithFirst(slot: SlotName): string {
  return `${slot} ${otherSlot(slot)}`;
}

/** A non-negative integer from an environment variable (missing or junk → fallback). */
export function intVar(v: string | undefined, fallback: number): number {
  if (v === undefined || !/^\d{1,6}$/.test(v.trim())) return fallback;
  return Number.parseInt(v.trim(), 10);
}

/** The result of running a command. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a program with arguments (no shell), capturing at most `cap` bytes of output each. */
export function runCommand(file: string, args: string[], opts: { cap?: number; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const cap = opts.cap ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout kills the command and everything it started
    // (a shell's children would otherwise keep the pipes open).
    const child = spawn(file, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, opts.timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < cap) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < cap) stderr += d.toString('utf8');
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal: timedOut ? 'SIGKILL' : signal, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the child may exit without reading its input
      child.stdin.end(opts.input);
    }
  });
}

/** Run a tool and fail with BOOTLOADER_ERROR unless it exits 0. */
export async function runTool(what: string, file: string, args: string[]): Promise<string> {
  let r: RunResult;
  try {
    r = await runCommand(file, args, { timeoutMs: 60_000 });
  } catch (e) {
    throw new FerryError('BOOTLOADER_ERROR', `${what}: cannot run ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').slice(-2).join(' / ') || `exit ${r.code ?? r.signal}`;
    throw new FerryError('BOOTLOADER_ERROR', `${what}: ${file} ${args.join(' ')} failed: ${msg}`, { details: { code: r.code, stderr: r.stderr } });
  }
  return r.stdout;
}

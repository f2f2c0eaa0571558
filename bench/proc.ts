/**
 * Child processes for the bench: run a tool and fail loudly, or run it under
 * GNU time to measure wall time and peak RSS.
 *
 * Wall time is taken with process.hrtime around the child (ns resolution); peak RSS
 * is GNU time's %M, i.e. the kernel's ru_maxrss for the waited-for tree: the largest
 * single process (e.g. for `tar -xzf` the larger of tar and gzip), not their sum.
 * Without GNU time, the direct child's VmHWM is polled from /proc instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The outcome of a finished command. */
export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of runProc/runChecked; `maxStdout`: bytes of stdout kept (default 4 MiB; a caller that parses all of it passes Infinity). */
export interface ProcOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  maxStdout?: number;
}

/** Run a command to completion, capturing (capped) output. */
export function runProc(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const cap = 4 * 1024 * 1024;
    const outCap = opts.maxStdout ?? cap;
    child.stdout.on('data', (b: Buffer) => { if (outLen < outCap) { out.push(b); outLen += b.length; } });
    child.stderr.on('data', (b: Buffer) => { if (errLen < cap) { err.push(b); errLen += b.length; } });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code: code ?? (signal ? 128 : 1),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }));
  });
}

/** Run a command and throw (with its stderr) unless it exits 0. */
export async function runChecked(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  const r = await runProc(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
  return r;
}

/** One measured run. */
export interface Sample {
  wallSec: number;
  maxRssKiB: number;
  /** User + system CPU seconds of the tree (GNU time only): steadier than wall time on a busy machine. */
  cpuSec?: number;
  /** System (kernel) CPU seconds of the tree (GNU time only): where file-system effects show. */
  sysSec?: number;
  /** What the command printed (GNU time only), e.g. ferry's --json result. */
  stdout?: string;
}

/** How peak RSS is measured: GNU time when installed, else polling /proc (direct child only). */
export const rssMethod = { current: existsSync('/usr/bin/time') ? 'gnu-time' : 'proc-poll' } as { current: 'gnu-time' | 'proc-poll' };

/** Run `argv` and measure it (see rssMethod); throws (with stderr) if the command fails. */
export async function measure(argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Sample> {
  return rssMethod.current === 'gnu-time' ? measureWithTime(argv, opts) : measureByPolling(argv, opts);
}

async function measureWithTime(argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-time-'));
  const out = join(dir, 'time.txt');
  try {
    const start = process.hrtime.bigint();
    const r = await runProc('/usr/bin/time', ['-f', '%e %M %U %S', '-o', out, '--', ...argv], opts);
    const wallSec = Number(process.hrtime.bigint() - start) / 1e9;
    if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
    const fields = (await readFile(out, 'utf8')).trim().split('\n').pop()?.split(' ') ?? [];
    const maxRssKiB = Number(fields[1]);
    if (!Number.isFinite(maxRssKiB)) throw new Error(`cannot read GNU time output for ${argv[0]}`);
    const sysSec = Number(fields[3]);
    const cpuSec = Number(fields[2]) + sysSec;
    return Number.isFinite(cpuSec) ? { wallSec, maxRssKiB, cpuSec, sysSec, stdout: r.stdout } : { wallSec, maxRssKiB, stdout: r.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fallback without GNU time: VmHWM of the direct child from /proc, polled every 10 ms. */
async function measureByPolling(argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Sample> {
  const [cmd, ...args] = argv;
  const start = process.hrtime.bigint();
  const child = spawn(cmd as string, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let peak = 0;
  let err = '';
  child.stderr.on('data', (b: Buffer) => { if (err.length < 65536) err += b.toString('utf8'); });
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      // the child has exited between two polls
    }
  }, 10);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  }).finally(() => clearInterval(poll));
  const wallSec = Number(process.hrtime.bigint() - start) / 1e9;
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${lastLines(err)}`);
  return { wallSec, maxRssKiB: Math.max(peak, 1) };
}

/** The last few lines of a tool's output, for error messages. */
export function lastLines(text: string, n = 3): string {
  const lines = text.trim().split('\n');
  // a stack trace's last lines say nothing: prefer the lines that name the error
  const errors = lines.filter((l) => /error/i.test(l) && !/^\s+at /.test(l));
  return (errors.length > 0 ? errors.slice(0, n) : lines.slice(-n)).join(' | ').slice(0, 600);
}

/** True when a program is on PATH. */
export async function hasTool(name: string): Promise<boolean> {
  const r = await runProc('sh', ['-c', `command -v ${name}`]).catch(() => ({ code: 1 }));
  return r.code === 0;
}

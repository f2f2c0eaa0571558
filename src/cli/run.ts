/**
 * The one place where errors become exit codes and printed lines (STYLE.md rule 6).
 * Every command action is wrapped by `action()`.
 */
import { ExitCode, FerryError, toFerryError } from '../errors.js';
import type { ProgressEvent, ProgressFn } from '../progress.js';

/** Print one line to stderr (or a JSON error object when --json) and return the exit code. */
export function reportError(e: unknown, json: boolean): number {
  const err = e instanceof FerryError ? e : toFerryError(e);
  if (json) {
    process.stdout.write(JSON.stringify({ ok: false, error: { code: err.code, message: err.message, details: err.details } }) + '\n');
  } else {
    process.stderr.write(`ferry: error[${err.code}]: ${err.message}\n`);
    if (process.env.FERRY_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
  }
  return err.exitCode;
}

/**
 * Wrap a command body: it returns an exit code (or nothing for success); errors are
 * reported once, here. `opts.json` decides how errors are printed.
 */
export function action<A extends unknown[]>(body: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as { optsWithGlobals?: () => Record<string, unknown> } | undefined;
    const opts = cmd?.optsWithGlobals?.() ?? {};
    let code: number;
    try {
      code = (await body(...args)) ?? ExitCode.OK;
    } catch (e) {
      code = reportError(e, Boolean(opts.json));
    }
    process.exitCode = code;
  };
}

/** Print a value as one JSON line. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The CLI's progress sink: JSON lines on stderr with `--progress`, a one-line bar on
 * stderr when it is a TTY, nothing otherwise. Shared by export, verify and archive.
 */
export function cliProgress(opts: { progress?: boolean }): ProgressFn | undefined {
  if (opts.progress) return (e: ProgressEvent) => void process.stderr.write(JSON.stringify(e) + '\n');
  if (!process.stderr.isTTY) return undefined;
  return (e: ProgressEvent) => {
    const width = 30;
    const frac = e.bytesTotal > 0 ? Math.min(1, e.bytesDone / e.bytesTotal) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const amount = e.step === 'layer' ? `${e.bytesDone + 1}/${e.bytesTotal}` : `${mib(e.bytesDone)}${e.bytesTotal ? ` / ${mib(e.bytesTotal)}` : ''}`;
    process.stderr.write(`\r${e.step.padEnd(10)} [${bar}] ${amount}`.padEnd(78).slice(0, 100));
    if (e.bytesTotal > 0 && e.bytesDone >= e.bytesTotal && e.step !== 'layer') process.stderr.write('\n');
  };
}

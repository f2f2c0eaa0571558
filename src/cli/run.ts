/**
 * The one place where errors become exit codes and printed lines (STYLE.md rule 6).
 * Every command action is wrapped by `action()`.
 */
import { ExitCode, FerryError, toFerryError } from '../errors.js';

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

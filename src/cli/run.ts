/**
 * The one place where errors become exit codes and printed lines (STYLE.md rule 6).
 * Every command action is wrapped by `action()`, and commands print only through
 * printLines, printNotes and printJson: every line is sanitised for the terminal there
 * (src/util/terminal.ts), because messages and listings embed strings from the stick.
 */
import { ExitCode, FerryError, toFerryError } from '../errors.js';
import { endBar } from './progress-bar.js';
import { sanitize, sanitizeText, terminalSafeJson } from '../util/terminal.js';

/** Print lines for a person on stdout; each argument is one line, its control characters (newlines too) shown as "?". */
export function printLines(...lines: string[]): void {
  endBar();
  process.stdout.write(lines.map((l) => sanitize(l) + '\n').join(''));
}

/** Print a whole document (CSV, HTML) on stdout: its line breaks (LF or CRLF) kept, each line sanitised like printLines. */
export function printDocument(text: string): void {
  endBar();
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  process.stdout.write(text.split(eol).map(sanitize).join(eol));
}

/** Print lines on stderr (the plan before a prompt, skipped updates, warnings), sanitised like printLines. */
export function printNotes(...lines: string[]): void {
  endBar();
  process.stderr.write(lines.map((l) => sanitize(l) + '\n').join(''));
}

/** Print one line to stderr (or a JSON error object when --json) and return the exit code. */
export function reportError(e: unknown, json: boolean): number {
  const err = e instanceof FerryError ? e : toFerryError(e);
  if (json) {
    printJson({ ok: false, error: { code: err.code, message: err.message, details: err.details } });
  } else {
    printNotes(`ferry: error[${err.code}]: ${err.message}`);
    if (process.env.FERRY_DEBUG && err.stack) process.stderr.write(sanitizeText(err.stack) + '\n');
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

/** Print a value as one JSON line (controls escaped: safe on a terminal, same value when parsed). */
export function printJson(value: unknown): void {
  endBar();
  process.stdout.write(terminalSafeJson(value) + '\n');
}

/** The CLI's progress sink, shared by export, verify and archive (progress-bar.ts). */
export { cliProgress } from './progress-bar.js';

/** Ask "proceed? [y/N]" on the terminal (stderr); Ctrl-C or the end of input means no. */
export async function askProceed(): Promise<boolean> {
  // loaded here: node:readline costs every command's start-up, and only a few commands ask
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.on('SIGINT', () => resolve(''));
      rl.on('close', () => resolve(''));
      rl.question('proceed? [y/N] ').then(resolve, () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

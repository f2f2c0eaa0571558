/**
 * How the bench reaches ferry: always through the BUILT command line
 * (dist/src/cli/main.js run by the same Node as the bench), so what is measured is
 * what a technician runs, start-up included. Commands still being written are
 * detected by asking for their --help and reported as "not available yet".
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProc } from './proc.js';

/** The repository root (the folder holding package.json), from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ferry repository root');
    dir = up;
  }
  return dir;
}

/** argv prefix that runs the built ferry CLI. */
export function ferryArgv(): string[] {
  return [process.execPath, join(repoRoot(), 'dist', 'src', 'cli', 'main.js')];
}

/** What the built CLI offers right now: help text per command, or why it is missing. */
export interface FerryCli {
  help: Record<string, string | undefined>;
  /** Why a command is unavailable (keyed like `help`). */
  missing: Record<string, string>;
}

/** Probe the built CLI for the commands the bench uses. */
export async function probeFerry(commands: readonly string[][]): Promise<FerryCli> {
  const cli: FerryCli = { help: {}, missing: {} };
  const main = ferryArgv();
  for (const cmd of commands) {
    const key = cmd.join(' ');
    if (!existsSync(main[1] as string)) {
      cli.missing[key] = 'ferry is not built (run tsc)';
      continue;
    }
    const r = await runProc(main[0] as string, [main[1] as string, ...cmd, '--help']);
    // commander answers an unknown sub-command's --help with the top-level help, so check the usage line
    if (r.code === 0 && r.stdout.startsWith(`Usage: ferry ${key}`)) cli.help[key] = r.stdout;
    else cli.missing[key] = 'ferry: not available yet';
  }
  return cli;
}

/** True when a command's help lists an option, e.g. hasOption(cli, 'export', '--media'). */
export function hasOption(cli: FerryCli, command: string, option: string): boolean {
  return new RegExp(`(^|[\\s,])${option.replace(/[-]/g, '\\-')}([\\s,<[=]|$)`, 'm').test(cli.help[command] ?? '');
}

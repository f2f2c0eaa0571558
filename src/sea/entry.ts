/**
 * Entry of the device's single executable (`dist/device/ferry`, see scripts/build-device.ts):
 * one binary that is `ferry …`, or the technician's TUI when called as `ferry-tui …` (a symlink)
 * or `ferry tui …`. The CLI and the TUI are imported lazily, so `ferry --version` at boot does
 * not initialise blessed, and the TUI's terminfo is in place before blessed reads its paths.
 */
import { basename } from 'node:path';
import { isSea } from 'node:sea';
import { installTerminfo } from './terminfo.js';
import { sanitizeText } from '../util/terminal.js';

/** The module shape the build gives src/cli/main.ts and tui/main.ts (their top-level `await main()` becomes `ready`). */
interface MainModule {
  ready?: Promise<void>;
}

/** True when this process should run the TUI: argv[0] is `ferry-tui`, or the first argument is `tui`. */
function wantsTui(argv0: string, args: readonly string[]): boolean {
  return basename(argv0) === 'ferry-tui' || args[0] === 'tui';
}

async function start(): Promise<void> {
  const args = process.argv.slice(2);
  if (wantsTui(process.argv0, args)) {
    // commander in tui/main.ts reads argv from index 2: drop the `tui` word
    if (args[0] === 'tui') process.argv.splice(2, 1);
    // blessed reads TERMINFO when it loads, so this must run before the import below
    if (isSea()) installTerminfo();
    await ((await import('../../tui/main.js')) as MainModule).ready;
  } else {
    // `ferry device auto` draws the Apply screen with blessed on a console
    if (isSea() && args[0] === 'device' && args[1] === 'auto') installTerminfo();
    await ((await import('../cli/main.js')) as MainModule).ready;
  }
}

start().catch((e: unknown) => {
  // Both mains report their own errors; this is only reached by a bug, so say where.
  process.stderr.write(`ferry: internal error: ${sanitizeText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  process.exit(70);
});

#!/usr/bin/env -S node --max-semi-space-size=4
/** The `ferry` command line: a thin commander layer over the library in src/. */
import { type Command, CommanderError } from 'commander';
import { ExitCode } from '../errors.js';
import { applyRuntimeFlags } from '../node-flags.js';
import { programFor } from './lazy.js';

/** Under --json, a parse error (unknown or missing option) is one JSON line on stdout, like every other error. */
function quietForJson(cmd: Command): void {
  cmd.configureOutput({ outputError: () => undefined });
  cmd.showHelpAfterError(false);
  for (const c of cmd.commands) quietForJson(c);
}

async function main(): Promise<void> {
  const program = await programFor(process.argv.slice(2));
  // after the command's modules: they compile with Node's code cache (src/node-flags.ts)
  applyRuntimeFlags();
  const json = process.argv.includes('--json');
  if (json) quietForJson(program);
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; any other parse problem is a usage error
      process.exitCode = e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
      if (json && e.exitCode !== 0) process.stdout.write(JSON.stringify({ ok: false, error: { code: 'USAGE', message: e.message.replace(/^error: /, '') } }) + '\n');
      return;
    }
    throw e;
  }
}

await main();

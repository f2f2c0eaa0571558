#!/usr/bin/env node
/** The `ferry` command line: a thin commander layer over the library in src/. */
import { CommanderError } from 'commander';
import { ExitCode } from '../errors.js';
import { buildProgram } from './program.js';

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; any other parse problem is a usage error
      process.exitCode = e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
      return;
    }
    throw e;
  }
}

await main();

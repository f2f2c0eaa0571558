#!/usr/bin/env -S node --max-semi-space-size=4
/** The `ferry` command line: a thin commander layer over the library in src/. */
import { type Command, CommanderError } from 'commander';
import { ExitCode } from '../errors.js';
import { applyRuntimeFlags } from '../node-flags.js';
import { commandName, programFor } from './lazy.js';

/**
 * Commands whose every step is awaited by the time their action returns (no background work,
 * no worker left: verify terminates its hashing worker): once stdout and stderr have flushed,
 * the process exits right away instead of tearing down V8's heap first, ~14 ms of each
 * `ferry verify` (perf stat, 3 blocks of 8 runs, real-time priority, load 7-10). export too:
 * every blob's sync and name, the chunk cache, index.json, the signature and the lock's release
 * are awaited before it prints; a hashing worker it used is idle then (and ended by the exit).
 */
const EXIT_WHEN_DONE: ReadonlySet<string> = new Set(['verify', 'export']);

/**
 * Commands that run without RUNTIME_V8_FLAGS (src/node-flags.ts). Setting a V8 flag changes V8's
 * flag hash even at run time, so every built-in loaded after it compiles without Node's code
 * cache: node:crypto took 8.5-10.7 ms to load instead of 3.8-5.8 ms, node:fs/promises 4.3-6.2
 * instead of 1.6-2.5 (chrt -r 50, 5 rounds each). verify loads node:crypto (and node:net for a
 * piped stdout) after its modules and keeps a heap of a few MiB, where a growth factor for the
 * old generation changes nothing. export likewise (node:crypto, node:worker_threads, the streams
 * load after its modules): 256 MiB oci-archive onto a fresh ext4, 8 rounds alternating with skopeo
 * copy, 0.500 -> 0.470 s; an export that writes a file index (which holds the image's entries)
 * sets the flags itself when it starts that work (cli/commands/export.ts).
 */
const DEFAULT_V8_FLAGS: ReadonlySet<string> = new Set(['verify', 'export']);

/** Resolves once everything written to `s` so far has been handed to the OS (a pipe's writes are asynchronous: a full pipe queues them). */
function flushed(s: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed || !s.writable) resolve();
    else s.write('', () => resolve());
  });
}

/** Under --json, a parse error (unknown or missing option) is one JSON line on stdout, like every other error. */
function quietForJson(cmd: Command): void {
  cmd.configureOutput({ outputError: () => undefined });
  cmd.showHelpAfterError(false);
  for (const c of cmd.commands) quietForJson(c);
}

async function main(): Promise<void> {
  const program = await programFor(process.argv.slice(2));
  const name = commandName(process.argv.slice(2));
  // after the command's modules: they compile with Node's code cache (src/node-flags.ts)
  if (name === undefined || !DEFAULT_V8_FLAGS.has(name)) applyRuntimeFlags();
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
  if (name === undefined || !EXIT_WHEN_DONE.has(name)) return;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit();
}

await main();

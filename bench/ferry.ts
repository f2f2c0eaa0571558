/**
 * How the bench reaches ferry: always through the BUILT command line, the `ferry` of
 * package.json's bin (dist/cli/ferry.js, the bundle of scripts/build-cli.ts, made afresh from
 * dist/ in the bench's snapshot; dist/src/cli/main.js where it could not be made) run by the
 * same Node as the bench, so what is measured is what a technician runs, start-up included. Commands still being written are
 * detected by asking for their --help and reported as "not available yet".
 */
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../scripts/build-cli.js';
import { NODE_FLAGS } from '../src/node-flags.js';
import { runProc } from './proc.js';
import { median } from './report.js';

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

/** Where the built ferry is run from: dist/, or the snapshot taken by `snapshotDist`; `entry`: the snapshot's bundle, when made. */
const paths = { dist: '', entry: '' };

/** The compiled tree the bench runs (dist/ or its snapshot). */
export function ferryDist(): string {
  return paths.dist || join(repoRoot(), 'dist');
}

/**
 * Copy dist/ to `<workdir>/ferry-dist/dist` and run ferry from there, so another
 * engineer's `tsc` rewriting dist/ mid-run cannot break a measurement. package.json
 * (for "type": "module") and a node_modules symlink make the copy resolve as dist/ does.
 */
export async function snapshotDist(workdir: string): Promise<string> {
  const root = join(workdir, 'ferry-dist');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await cp(join(repoRoot(), 'dist'), join(root, 'dist'), { recursive: true });
  await copyFile(join(repoRoot(), 'package.json'), join(root, 'package.json'));
  await symlink(join(repoRoot(), 'node_modules'), join(root, 'node_modules'));
  paths.dist = join(root, 'dist');
  // bundled from the snapshot's own dist/src, so it cannot be older than the code it claims to be
  paths.entry = await buildCli(paths.dist).catch((e: unknown) => {
    process.stderr.write(`bench: cannot bundle the CLI (${e instanceof Error ? e.message : String(e)}): ferry runs as dist/src/cli/main.js\n`);
    return '';
  });
  return paths.dist;
}

/** argv prefix that runs Node as the `ferry` script's `#!` line does (src/node-flags.ts). */
export function nodeArgv(): string[] {
  return [process.execPath, ...NODE_FLAGS];
}

/** argv prefix that runs the built ferry CLI, with the Node options its `#!` line gives it. */
export function ferryArgv(): string[] {
  return [...nodeArgv(), paths.entry || join(ferryDist(), 'src', 'cli', 'main.js')];
}

/** How ferry is run, for the results' notes. */
export function ferryEntryNote(): string {
  return paths.entry ? 'node dist/cli/ferry.js, the bundle `bin` points to' : 'node dist/src/cli/main.js';
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
    if (!existsSync(main.at(-1) as string)) {
      cli.missing[key] = 'ferry is not built (run tsc)';
      continue;
    }
    const r = await runProc(main[0] as string, [...main.slice(1), ...cmd, '--help']);
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

/** Median wall time in ms of `argv` over `runs` runs (run one after the other; output ignored). */
async function medianStartMs(argv: readonly string[], runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await runProc(argv[0] as string, argv.slice(1));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

/**
 * The results' start-up note, measured on the run's own machine (a figure from another VM
 * misleads: 0.11 s there, 0.02 s on the next): `node -e 0` and `ferry --version` as the bench runs it.
 */
export async function startupNote(runs = 7): Promise<string> {
  const node = await medianStartMs([process.execPath, '-e', '0'], runs);
  const ferry = await medianStartMs([...ferryArgv(), '--version'], runs);
  return `ferry runs as the built CLI (${ferryEntryNote()}), so Node start-up is included, as it is for a technician: on this machine \`node -e 0\` takes ${node.toFixed(0)} ms and \`ferry --version\` ${ferry.toFixed(0)} ms (median of ${runs}, at the start of the run).`;
}

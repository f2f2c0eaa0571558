/** The bench's command line: `npm run bench [-- --smoke] [-- --sizes 256M,1G] [-- --runs N] …`. */
import { join } from 'node:path';
import { parseStickKind, type StickKind } from './campaign-sticks.js';

/** Parsed bench options. */
export interface BenchOptions {
  smoke: boolean;
  sizes: string[];
  runs: number;
  seed: number;
  workdir: string;
  resultsDir: string;
  profile: boolean;
  /** Install missing peers with apt-get (default on; off in the test suite). */
  installPeers: boolean;
  /** Skip the comparisons whose names do not contain this (for development). */
  only?: string;
  /** A real file tree as 1.0.0 instead of the synthetic ones (its size label is "rootfs"). */
  rootfs?: string;
  /** Where the campaign rows put their sticks (bench/campaign-sticks.ts); default: folders on the bench's disk. */
  campaignSticks: StickKind[];
  /** A fresh file system per side and sample for the write rows (bench/fresh-fs.ts); off with --no-fresh-fs. */
  freshFs: boolean;
}

const USAGE = 'usage: bench [--smoke] [--sizes 256M,1G[,4G]] [--runs N] [--seed N] [--workdir DIR] [--results DIR] [--profile] [--no-install] [--only TEXT] [--rootfs DIR] [--campaign-sticks folders,tmpfs,loop:MBPS,loopram:MBPS] [--no-fresh-fs]';

/** Parse argv (without node and script); throws with the usage on anything unknown. */
export function parseBenchArgs(argv: readonly string[], root: string): BenchOptions {
  const o: BenchOptions = {
    smoke: false, sizes: ['256M', '1G'], runs: 3, seed: 20261122,
    workdir: join(root, 'bench', 'work'), resultsDir: join(root, 'bench', 'results'),
    profile: false, installPeers: true, campaignSticks: [{ kind: 'folders' }], freshFs: true,
  };
  let sizesGiven = false;
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value; ${USAGE}`);
      return v;
    };
    if (a === '--smoke') o.smoke = true;
    else if (a === '--sizes') { o.sizes = value().split(',').filter(Boolean); sizesGiven = true; }
    else if (a === '--runs') { o.runs = positiveInt(value(), a); runsGiven = true; }
    else if (a === '--seed') o.seed = positiveInt(value(), a);
    else if (a === '--workdir') o.workdir = value();
    else if (a === '--results') o.resultsDir = value();
    else if (a === '--profile') o.profile = true;
    else if (a === '--no-install') o.installPeers = false;
    else if (a === '--only') o.only = value();
    else if (a === '--rootfs') { o.rootfs = value(); sizesGiven = true; o.sizes = ['rootfs']; }
    else if (a === '--campaign-sticks') o.campaignSticks = value().split(',').filter(Boolean).map(parseStickKind);
    else if (a === '--no-fresh-fs') o.freshFs = false;
    else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown option ${a}; ${USAGE}`);
  }
  if (o.smoke) {
    if (!sizesGiven) o.sizes = ['16M'];
    if (!runsGiven) o.runs = 1;
  }
  if (o.sizes.length === 0) throw new Error(`--sizes is empty; ${USAGE}`);
  return o;
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

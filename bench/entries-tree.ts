/**
 * A small tree with the entries of a size's synthetic plan (bench/rootfs.ts): the same paths,
 * directories, symlinks and hardlink, every regular file cut to at most 4 KiB. ferry's memory in
 * apply, incremental apply and drift grows with the number of entries (the file index), not with
 * the bytes (those stream through fixed buffers), so `--rootfs` of this tree measures a size's
 * entry count where its bytes do not fit on the disk or in the time at hand:
 *
 *   npx tsc -p . && npx node dist/bench/entries-tree.js 4G /tmp/entries-4G
 *   npm run bench -- --rootfs /tmp/entries-4G --runs 1 --only "incremental apply"
 */
import { rm } from 'node:fs/promises';
import { parseSize } from './inputs.js';
import { planRootfs, writeEntries, type PlannedEntry } from './rootfs.js';

/** The largest regular file of an entries tree. */
export const ENTRY_FILE_CAP = 4096;

/** The plan of `sizeLabel` with every regular file cut to ENTRY_FILE_CAP bytes. */
export function entriesPlan(seed: number, sizeLabel: string): PlannedEntry[] {
  return planRootfs(seed, parseSize(sizeLabel)).map((e) => (e.type === 'file' ? { ...e, size: Math.min(e.size, ENTRY_FILE_CAP) } : e));
}

/** Write the entries tree of `sizeLabel` to `dir` (replaced); returns its entry count. */
export async function writeEntriesTree(seed: number, sizeLabel: string, dir: string): Promise<number> {
  const plan = entriesPlan(seed, sizeLabel);
  await rm(dir, { recursive: true, force: true });
  await writeEntries(dir, seed, plan);
  return plan.length;
}

if (process.argv[1]?.endsWith('entries-tree.js')) {
  const [size, dir, seed = '20261122'] = process.argv.slice(2);
  if (size === undefined || dir === undefined) {
    console.error('usage: node dist/bench/entries-tree.js SIZE DIR [SEED]   (e.g. 4G /tmp/entries-4G)');
    process.exit(2);
  }
  console.log(`${await writeEntriesTree(Number(seed), size, dir)} entries written to ${dir}`);
}

/** The entries tree (bench/entries-tree.ts): a size's entries at a fraction of its bytes. */
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_FILE_CAP, entriesPlan, writeEntriesTree } from '../../bench/entries-tree.js';
import { parseSize } from '../../bench/inputs.js';
import { planRootfs, plannedBytes } from '../../bench/rootfs.js';

const SEED = 20261122;
let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('entriesPlan', () => {
  it('keeps every entry of the size plan (paths, types, links) and cuts only file sizes', () => {
    const full = planRootfs(SEED, parseSize('64M'));
    const small = entriesPlan(SEED, '64M');
    expect(small.map((e) => `${e.type} ${e.path}`)).toEqual(full.map((e) => `${e.type} ${e.path}`));
    for (const e of small) if (e.type === 'file') expect(e.size).toBeLessThanOrEqual(ENTRY_FILE_CAP);
    expect(full.some((e) => e.type === 'file' && e.size > ENTRY_FILE_CAP)).toBe(true);
    expect(plannedBytes(small)).toBeLessThan(plannedBytes(full) / 4);
  });
});

describe('writeEntriesTree', () => {
  it('writes the planned entries, files no larger than the cap', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-entries-tree-'));
    const root = join(dir, 'tree');
    const n = await writeEntriesTree(SEED, '8M', root);
    const plan = entriesPlan(SEED, '8M');
    expect(n).toBe(plan.length);
    for (const e of plan) {
      const st = await lstat(join(root, e.path));
      if (e.type === 'symlink') expect(st.isSymbolicLink()).toBe(true);
      else expect(st.size).toBeLessThanOrEqual(ENTRY_FILE_CAP);
    }
  });
});

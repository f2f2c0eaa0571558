/** The bench's correctness gate: a fast but wrong ferry output must not win a row. */
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sameTree } from '../../bench/ops-apply.js';

let dir: string;
const tree = async (name: string, tweak?: (root: string) => Promise<void>) => {
  const root = join(dir, name);
  await mkdir(join(root, 'usr', 'bin'), { recursive: true });
  await writeFile(join(root, 'usr', 'bin', 'python3.11'), 'binary');
  await link(join(root, 'usr', 'bin', 'python3.11'), join(root, 'usr', 'bin', 'python3'));
  await symlink('usr/bin', join(root, 'bin'));
  await writeFile(join(root, 'os-release'), 'ID=bench\n');
  await tweak?.(root);
  return root;
};

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-bench-tree-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('sameTree', () => {
  it('accepts two identical extractions', async () => {
    await expect(sameTree(await tree('a'), await tree('b'))).resolves.toBeUndefined();
  });

  it('refuses a changed byte, a changed mode, a broken hardlink and a different symlink target', async () => {
    const a = await tree('a');
    await expect(sameTree(a, await tree('byte', (r) => writeFile(join(r, 'os-release'), 'ID=bencH\n')))).rejects.toThrow(/differ/);
    await expect(sameTree(a, await tree('mode', (r) => chmod(join(r, 'os-release'), 0o600)))).rejects.toThrow(/listing differs/);
    await expect(sameTree(a, await tree('hard', async (r) => {
      await rm(join(r, 'usr', 'bin', 'python3'));
      await writeFile(join(r, 'usr', 'bin', 'python3'), 'binary');
    }))).rejects.toThrow(/listing differs/);
    await expect(sameTree(a, await tree('sym', async (r) => {
      await rm(join(r, 'bin'));
      await symlink('/usr/bin', join(r, 'bin'));
    }))).rejects.toThrow(/listing differs/);
  });
});

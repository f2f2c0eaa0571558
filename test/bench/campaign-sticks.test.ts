import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleRamSticks } from '../../bench/campaign-sticks.js';

let shm: string;
beforeAll(async () => {
  shm = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-fake-shm-'));
});
afterAll(() => fsp.rm(shm, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

describe('removeStaleRamSticks', () => {
  it("removes the RAM sticks of bench runs that are gone, keeps a live run's, a held loop stick's and other folders", async () => {
    const dead = deadPid();
    const mk = async (name: string, file: string, bytes = 4096): Promise<string> => {
      await fsp.mkdir(path.join(shm, name), { recursive: true });
      await fsp.writeFile(path.join(shm, name, file), Buffer.alloc(bytes));
      return path.join(shm, name);
    };
    const gone = await mk(`ferry-bench-campaign-${dead}`, 'stick-1');
    const goneLoops = await mk(`ferry-bench-campaign-loops-${dead}`, 'loop-1.img');
    const live = await mk(`ferry-bench-campaign-${process.pid}`, 'stick-1');
    const other = await mk('someone-elses', 'x');
    const held = await mk(`ferry-bench-campaign-loops-${deadPid()}`, 'loop-1.img', 1024 * 1024);
    // a loop device still holds the killed run's file: its folder stays (losetup needs root, as the bench does)
    const attach = spawnSync('losetup', ['-f', '--show', path.join(held, 'loop-1.img')], { encoding: 'utf8' });
    const device = attach.status === 0 ? attach.stdout.trim() : undefined;
    try {
      const removed = await removeStaleRamSticks(shm);
      expect(removed.sort()).toEqual([gone, goneLoops, ...(device ? [] : [held])].sort());
      for (const d of [gone, goneLoops]) await expect(fsp.access(d)).rejects.toThrow();
      for (const d of [live, other, ...(device ? [held] : [])]) await fsp.access(d);
    } finally {
      if (device) spawnSync('losetup', ['-d', device]);
    }
    // once nothing holds it, the next bench run removes it too
    expect(await removeStaleRamSticks(shm)).toEqual(device ? [held] : []);
  });
});

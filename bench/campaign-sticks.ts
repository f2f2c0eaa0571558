/**
 * Where the campaign rows put their N "sticks" (`--campaign-sticks`): folders on the bench's
 * disk (the default, one device for all sticks), folders on tmpfs (no disk: what the CPU
 * allows), or one loop device per stick, each with its own write throttle (`loop:MBPS` over
 * files on the workdir's disk; `loopram:MBPS` over files in tmpfs, so that the throttle is each
 * stick's only limit), the nearest this machine gets to N real USB sticks with their own bandwidth. The throttle is
 * blk-throttle's per-device limit in the ROOT blkio cgroup (cgroup v1): it applies to every
 * write to that device, the kernel's background writeback included, so no byte gets past it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pidAlive } from '../src/device/lock.js';
import { attachLoop, type LoopDevice } from './loop.js';
import { runChecked } from './proc.js';

/** The root blkio cgroup's per-device write limit (cgroup v1). */
const THROTTLE = '/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device';

/** One kind of stick set, as parsed from `--campaign-sticks`. */
export type StickKind = { kind: 'folders' } | { kind: 'tmpfs' } | { kind: 'loop'; mbps: number; ram: boolean };

/** Up to four stick folders of one kind, ready for the rows; `stop` removes them (and detaches what it attached). */
export interface StickSet {
  /** Row label suffix ("" for the folders on the bench's disk). */
  label: string;
  /** Why this set cannot run here (then `dirs` is empty). */
  why?: string;
  dirs: string[];
  /** Text for the notes column. */
  where: string;
  stop: () => Promise<void>;
}

/** Parse `folders`, `tmpfs`, `loop:MBPS` (loop files on the workdir's disk) or `loopram:MBPS` (loop files on tmpfs). */
export function parseStickKind(s: string): StickKind {
  if (s === 'folders' || s === 'tmpfs') return { kind: s };
  const m = /^(loop|loopram):(\d+)$/.exec(s);
  if (m && Number(m[2]) > 0) return { kind: 'loop', mbps: Number(m[2]), ram: m[1] === 'loopram' };
  throw new Error(`--campaign-sticks takes folders, tmpfs, loop:MBPS or loopram:MBPS (e.g. loop:40), got "${s}"`);
}

/**
 * Remove the RAM sticks of bench runs that are gone: a run killed before its `stop` leaves
 * `ferry-bench-campaign-<pid>` in /dev/shm, memory taken until the next reboot (725 MiB found
 * from one). A loop-stick folder whose files a loop device still holds is left (its mounts and
 * loops are that run's; removing the files would not free the memory). Returns what it removed.
 */
export async function removeStaleRamSticks(shm = '/dev/shm'): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(shm).catch(() => [] as string[])) {
    const m = /^ferry-bench-campaign-(loops-)?(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    const dir = join(shm, name);
    if (m[1] !== undefined) {
      const files = await readdir(dir).catch(() => [] as string[]);
      const held = await Promise.all(files.map((f) => runChecked('losetup', ['-j', join(dir, f)]).then((r) => r.stdout.trim() !== '', () => true)));
      if (held.some(Boolean)) continue;
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Make the stick set `k` for N ≤ 4 sticks of `perStick` bytes each. */
export async function makeStickSet(k: StickKind, scratch: string, perStick: number): Promise<StickSet> {
  if (k.kind === 'tmpfs' || (k.kind === 'loop' && k.ram)) await removeStaleRamSticks();
  if (k.kind === 'folders') {
    const dirs = [1, 2, 3, 4].map((i) => join(scratch, 'campaign', `stick-${i}`));
    return { label: '', dirs, where: 'sticks are folders on one local disk', stop: async () => undefined };
  }
  if (k.kind === 'tmpfs') {
    const root = join('/dev/shm', `ferry-bench-campaign-${process.pid}`);
    if (!existsSync('/dev/shm')) return { label: ' on tmpfs', why: 'no /dev/shm here', dirs: [], where: '', stop: async () => undefined };
    return { label: ' on tmpfs', dirs: [1, 2, 3, 4].map((i) => join(root, `stick-${i}`)), where: 'sticks are folders on tmpfs (no disk)', stop: () => rm(root, { recursive: true, force: true }) };
  }
  return loopSticks(k.mbps, k.ram ? join('/dev/shm', `ferry-bench-campaign-loops-${process.pid}`) : join(scratch, 'campaign'), scratch, perStick);
}

/** Four throttled loop sticks over sparse files in `backing` (the workdir's disk, or tmpfs: then the throttle is each stick's only limit). */
async function loopSticks(mbps: number, backing: string, scratch: string, perStick: number): Promise<StickSet> {
  const ram = backing.startsWith('/dev/shm/');
  const label = ` on loop sticks${ram ? ' in RAM' : ''} at ${mbps} MB/s`;
  if (!existsSync(THROTTLE)) return { label, why: 'no cgroup v1 blkio write throttle here (a cgroup v2 io.max mode is not built)', dirs: [], where: '', stop: async () => undefined };
  const loops: Extract<LoopDevice, { device: string }>[] = [];
  const throttled: string[] = [];
  // a bench stopped early (SIGINT/SIGTERM exit through bench/run.ts) must not leave the root cgroup's
  // limits behind: they outlive the loop devices and throttle the next user of those minor numbers
  const unthrottleOnExit = (): void => {
    for (const mm of throttled) {
      try {
        writeFileSync(THROTTLE, `${mm} 0\n`);
      } catch {
        /* the device is gone or the limit already cleared */
      }
    }
  };
  process.once('exit', unthrottleOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', unthrottleOnExit);
    for (const mm of throttled) await writeFile(THROTTLE, `${mm} 0\n`).catch(() => undefined);
    for (const l of loops) await l.detach();
    if (ram) await rm(backing, { recursive: true, force: true });
  };
  try {
    const dirs: string[] = [];
    for (const i of [1, 2, 3, 4]) {
      const mnt = join(scratch, 'campaign', `loop-${i}`);
      await mkdir(mnt, { recursive: true });
      await mkdir(backing, { recursive: true });
      const l = await attachLoop(join(backing, `loop-${i}.img`), Math.ceil(perStick * 1.3) + 256 * 2 ** 20);
      if ('why' in l) throw new Error(l.why);
      loops.push(l);
      // no lazy init: ext4lazyinit would write inode tables through the throttle during the runs
      await runChecked('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', l.device]);
      await runChecked('mount', [l.device, mnt]);
      const mm = (await readFile(`/sys/class/block/${basename(l.device)}/dev`, 'utf8')).trim();
      await writeFile(THROTTLE, `${mm} ${mbps * 1_000_000}\n`);
      throttled.push(mm);
      dirs.push(join(mnt, 'stick'));
    }
    const over = ram ? 'over a file in tmpfs (no shared disk behind the sticks)' : 'over a file on the bench disk (all sticks share that disk)';
    const where = `each stick its own ext4 loop device ${over}, writes throttled to ${mbps} MB/s per device (root blkio cgroup, writeback included)`;
    return { label, dirs, where, stop };
  } catch (e) {
    await stop();
    return { label, why: `loop sticks failed: ${e instanceof Error ? e.message.slice(0, 160) : String(e)}`, dirs: [], where: '', stop: async () => undefined };
  }
}

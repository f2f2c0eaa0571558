/**
 * A fresh file system per side and per sample for the rows that write many files (export,
 * incremental export, the dir-slot applies and the whole device apply). This machine's root ext4
 * has no journal: its inode allocator then skips every inode deleted in the last 60 s (360 s while
 * the inode-table block is dirty), looking each one up, so a writer on that file system pays for
 * whatever anyone deleted in the last minute (the same `tar -xzf` took 5.74 s and 14.76 s, both
 * idle). Here every side of those rows writes into its own ext4, made by mkfs.ext4 with its
 * default layout (a journal, like a technician's formatted stick or a device's slot) on a loop
 * device just before the sample and unmounted right after it, all outside the clock; so no side
 * inherits another's deletions, and the dirty pages a side leaves (skopeo does not sync) reach the
 * disk in its own unmount, not in the next side's timed run.
 *
 * The loop device's backing file lives in the bench's scratch dir on the workdir's disk, not in
 * tmpfs: a side's writeback and fsyncs still cost what they cost on this disk (tmpfs would make
 * ferry's per-blob fsync free and favour it). It is written full of zeros once per side and row
 * (O_DIRECT), the loop device reads and writes it with O_DIRECT, and mkfs neither discards nor
 * zeroes it (mkfsArgs), so every sample overwrites blocks the root file system already holds: no
 * allocation, extent conversion or inode on the root file system inside the clock.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { attachLoop } from './loop.js';
import { hasTool, runChecked, runProc } from './proc.js';

const MiB = 2 ** 20;

/** Whether the write rows get fresh file systems here, and if not, why. */
export type FreshFsMode = { on: true; backing: string; directIo: boolean } | { on: false; why: string };

/**
 * The size of each side's fresh file system for a row whose largest side writes `written` bytes:
 * 1.3x that plus 256 MiB (ext4's journal, inode tables and the tail of every small file), in whole
 * 4 MiB, and at least 1 GiB for a real size: below 512 MiB mke2fs picks its "small" profile
 * (1 KiB blocks), unlike any stick or slot. The smoke run's few MiB get 64 MiB of margin instead.
 */
export function freshFsBytes(written: number): number {
  const real = written >= 64 * MiB;
  const want = Math.max(written * 1.3 + (real ? 256 : 64) * MiB, real ? 1024 * MiB : 0);
  return Math.ceil(want / (4 * MiB)) * 4 * MiB;
}

/**
 * mkfs.ext4's arguments for a fresh file system on `device`: the default layout, without touching
 * the blocks it does not need. No discard: on a loop device that punches holes in the backing
 * file, and every sample would allocate its blocks on the root file system again. Inode tables
 * and journal not zeroed: on a loop device mke2fs zeroes them with write-zeroes, which turns that
 * range of the backing file back into unwritten extents, and every journal commit or new inode of
 * the timed run would then convert extents on the root file system (measured: 5 unwritten extents
 * after an eager mkfs, 1, the last 64 KiB, after this one). ext4 writes a new inode whole, and the
 * journal's superblock is fresh, so stale bytes there are never read; `MOUNT_OPTIONS` keeps the
 * kernel from zeroing the tables in the background during the runs.
 */
export function mkfsArgs(device: string): string[] {
  return ['-q', '-F', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', device];
}

/** Mount options of a fresh file system: the defaults, but no ext4lazyinit thread zeroing inode tables while a side is timed. */
export const MOUNT_OPTIONS = 'noinit_itable';

/** The row note for a comparison whose sides write into their own folders. */
export function freshFsNote(mode: FreshFsMode, bytes: number): string {
  return mode.on
    ? `each side writes into a fresh ext4 (journal, ${Math.round(bytes / MiB)} MiB loop device) made before each sample`
    : `no fresh file system per sample (${mode.why}): outputs on the workdir's file system`;
}

/**
 * Can this machine make fresh file systems (root, losetup, mkfs.ext4, mount)? Tried for real:
 * a 64 MiB loop file system in `backing` made, mounted and unmounted. `requested` false is
 * `--no-fresh-fs`.
 */
export async function probeFreshFs(backing: string, requested: boolean): Promise<FreshFsMode> {
  if (!requested) return { on: false, why: '--no-fresh-fs' };
  if (process.getuid?.() !== 0) return { on: false, why: 'not root: no loop devices or mounts' };
  for (const tool of ['losetup', 'mkfs.ext4', 'mount', 'umount', 'dd']) if (!(await hasTool(tool))) return { on: false, why: `${tool} is missing` };
  const set = new FreshFsSet(backing, 64 * MiB);
  const mnt = join(backing, 'fresh-probe');
  try {
    await set.fresh(mnt);
    const directIo = await set.directIo(mnt);
    await set.unmount(mnt);
    return { on: true, backing, directIo };
  } catch (e) {
    return { on: false, why: `cannot make one here (${e instanceof Error ? e.message.slice(0, 160) : String(e)})` };
  } finally {
    await set.close();
    await rm(mnt, { recursive: true, force: true });
  }
}

let files = 0;

/**
 * The fresh file systems of one comparison: one loop device per side folder (its backing file made
 * on first use), a new mkfs.ext4 and mount before each of that side's samples, an unmount after.
 * The last sample's file systems can be mounted again for the row's correctness check.
 */
export class FreshFsSet {
  private readonly loops = new Map<string, { device: string; detach: () => Promise<void> }>();
  private readonly mounted = new Set<string>();

  /** `backing`: the folder for the backing files; `bytes`: each file system's size. */
  constructor(private readonly backing: string, private readonly bytes: number) {}

  /**
   * The loop device for `dir`, its backing file written now if new. The harness attaches every
   * side's before the first sample, so no sample runs right after writing a backing file.
   */
  async attach(dir: string): Promise<{ device: string }> {
    const had = this.loops.get(dir);
    if (had !== undefined) return had;
    await mkdir(this.backing, { recursive: true });
    const l = await attachLoop(join(this.backing, `fresh-${process.pid}-${++files}.img`), this.bytes, { preallocate: true, directIo: true });
    if ('why' in l) throw new Error(l.why);
    this.loops.set(dir, l);
    return l;
  }

  /** A new, empty ext4 mounted at `dir` (created if missing). */
  async fresh(dir: string): Promise<void> {
    const loop = await this.attach(dir);
    await this.unmount(dir);
    await runChecked('mkfs.ext4', mkfsArgs(loop.device));
    await mkdir(dir, { recursive: true });
    await runChecked('mount', ['-t', 'ext4', '-o', MOUNT_OPTIONS, loop.device, dir]);
    this.mounted.add(dir);
  }

  /** True when the loop device under `dir` reads its backing file with O_DIRECT. */
  async directIo(dir: string): Promise<boolean> {
    const loop = this.loops.get(dir);
    if (loop === undefined) return false;
    return (await readFile(`/sys/block/${basename(loop.device)}/loop/dio`, 'utf8').catch(() => '0')).trim() === '1';
  }

  /** Unmount `dir` if this set mounted it: the side's unsynced writes reach the disk here, outside the clock. */
  async unmount(dir: string): Promise<void> {
    if (!this.mounted.has(dir)) return;
    // a child that has just exited may still hold the mount for a moment
    for (let tries = 0; ; tries++) {
      const r = await runProc('umount', [dir]);
      if (r.code === 0) break;
      if (tries >= 10) throw new Error(`umount ${dir}: ${r.stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    this.mounted.delete(dir);
  }

  /** Mount every side's last file system again, as that side left it (for the row's check). */
  async remountAll(): Promise<void> {
    for (const [dir, loop] of this.loops) {
      if (this.mounted.has(dir)) continue;
      await runChecked('mount', ['-t', 'ext4', '-o', MOUNT_OPTIONS, loop.device, dir]);
      this.mounted.add(dir);
    }
  }

  /** Unmount and detach everything (the backing files are removed). */
  async close(): Promise<void> {
    for (const dir of [...this.mounted]) await this.unmount(dir).catch(() => undefined);
    for (const loop of this.loops.values()) await loop.detach();
    this.loops.clear();
  }
}

/**
 * The `block` slot: a partition (or loop device) that gets a fresh file system for
 * every image: mkfs, mount on a private mount point under the state directory,
 * extract, syncfs, unmount (always, even when the write fails).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../../errors.js';
import { runCommand } from '../bootloaders/common.js';
import { applyWithEarlySync } from './early-sync.js';
import { type ImageSize, type Slot, type SlotName, type SlotTree, type SlotWriteRequest, type SlotWriteResult, type SpaceNeed, unpackedNeed } from '../types.js';
import { parseMountinfo } from '../../util/mountinfo.js';
import { SlotParams } from './params.js';

export const BLOCK_FS_TYPES = ['ext4', 'ext3', 'ext2', 'xfs'] as const;
export type BlockFsType = (typeof BLOCK_FS_TYPES)[number];

/** A block slot's parameters (DESIGN.md section 4). */
export interface BlockSlotConfig {
  device: string;
  fsType: BlockFsType;
  mkfsArgs: string[];
}

/** Validate a block slot's config; CONFIG_INVALID lists every problem. */
export function parseBlockSlotConfig(name: SlotName, config: unknown): BlockSlotConfig {
  const p = new SlotParams(name, 'block', config, ['device', 'fsType', 'mkfsArgs']);
  const device = p.absolutePath('device', true);
  const fsType = p.choice('fsType', BLOCK_FS_TYPES, 'ext4');
  const mkfsArgs = p.stringList('mkfsArgs');
  p.check();
  return { device: device!, fsType, mkfsArgs };
}

/** The mkfs command line: force (the slot is ours to erase), quiet, then the admin's extra args. */
export function mkfsCommand(cfg: BlockSlotConfig): [string, string[]] {
  const force = cfg.fsType === 'xfs' ? '-f' : '-F';
  return [`mkfs.${cfg.fsType}`, [force, '-q', ...cfg.mkfsArgs, cfg.device]];
}

/** "major:minor" of a block device. */
async function deviceNumber(device: string, slot: SlotName): Promise<string> {
  let st;
  try {
    st = await fsp.stat(device);
  } catch (e) {
    throw new FerryError('SLOT_WRITE_FAILED', `block device ${device} is missing (${(e as Error).message}); fix slots.${slot}.device`, { cause: e });
  }
  if (!st.isBlockDevice()) throw new FerryError('CONFIG_INVALID', `${device} is not a block device; fix slots.${slot}.device`);
  // glibc's dev_t layout: major = bits 8-19 and 32-43, minor = bits 0-7 and 20-31.
  const d = BigInt(st.rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n);
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** Mount points of the device `majMin`, from /proc/self/mountinfo (field 3 is major:minor). */
export function mountPointsOf(mountinfo: string, majMin: string): string[] {
  return parseMountinfo(mountinfo)
    .filter((m) => m.majMin === majMin)
    .map((m) => m.point);
}

async function run(file: string, args: string[]): Promise<void> {
  let r;
  try {
    r = await runCommand(file, args);
  } catch (e) {
    throw new FerryError('SLOT_WRITE_FAILED', `cannot run ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').slice(-2).join(' / ') || `exit ${r.code ?? r.signal}`;
    throw new FerryError('SLOT_WRITE_FAILED', `${file} ${args.join(' ')} failed: ${msg}`, { details: { stderr: r.stderr } });
  }
}

class BlockSlot implements Slot {
  readonly type = 'block';
  private readonly mountPoint: string;
  private readonly readMountPoint: string;
  constructor(
    readonly name: SlotName,
    private readonly cfg: BlockSlotConfig,
    stateDir: string,
  ) {
    this.mountPoint = path.join(stateDir, 'mnt', `slot-${name}`);
    this.readMountPoint = path.join(stateDir, 'mnt', `read-${name}`);
  }

  /**
   * The file system where it is already mounted (the running system's root), else mounted
   * read-only on a private mount point for the caller, unmounted by release().
   */
  async openTree(): Promise<SlotTree> {
    const majMin = await deviceNumber(this.cfg.device, this.name);
    const mounted = mountPointsOf(await fsp.readFile('/proc/self/mountinfo', 'utf8'), majMin);
    const ignore = ['/lost+found', '/lost+found/**'];
    const elsewhere = mounted.filter((m) => m !== this.readMountPoint);
    if (elsewhere.length > 0) return { root: elsewhere[0]!, ignore, release: async () => undefined };
    if (mounted.length === 0) {
      await fsp.mkdir(this.readMountPoint, { recursive: true });
      await run('mount', ['-o', 'ro', '-t', this.cfg.fsType, this.cfg.device, this.readMountPoint]);
    }
    return { root: this.readMountPoint, ignore, release: () => run('umount', [this.readMountPoint]) };
  }

  describe(): string {
    return `block ${this.cfg.device} (${this.cfg.fsType})`;
  }

  /** The file system made on the device receives the unpacked root filesystem. */
  requiredBytes(image: ImageSize): SpaceNeed {
    return unpackedNeed(image);
  }

  /** The device size from sysfs (the file system's own overhead is not subtracted). */
  async availableBytes(): Promise<number | undefined> {
    try {
      const majMin = await deviceNumber(this.cfg.device, this.name);
      const sectors = Number((await fsp.readFile(`/sys/dev/block/${majMin}/size`, 'utf8')).trim());
      return Number.isSafeInteger(sectors) ? sectors * 512 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The file system is kept for an incremental write only when a read-only check finds it
   * clean (`e2fsck -n -f`, `xfs_repair -n`) and it is not mounted anywhere.
   */
  async reuseProblem(): Promise<string | undefined> {
    const majMin = await deviceNumber(this.cfg.device, this.name);
    if (mountPointsOf(await fsp.readFile('/proc/self/mountinfo', 'utf8'), majMin).length > 0) return `${this.cfg.device} is mounted`;
    const [cmd, args] = this.cfg.fsType === 'xfs' ? ['xfs_repair', ['-n', this.cfg.device]] : ['e2fsck', ['-n', '-f', this.cfg.device]];
    const r = await runCommand(cmd, args).catch((e: unknown) => ({ code: -1, stderr: (e as Error).message }));
    return r.code === 0 ? undefined : `${cmd} -n found problems in the file system of ${this.cfg.device} (exit ${r.code})`;
  }

  async write(req: SlotWriteRequest): Promise<SlotWriteResult> {
    const majMin = await deviceNumber(this.cfg.device, this.name);
    const mounted = mountPointsOf(await fsp.readFile('/proc/self/mountinfo', 'utf8'), majMin);
    const stale = mounted.filter((m) => m === this.mountPoint);
    if (mounted.length > stale.length) {
      throw new FerryError('SLOT_BUSY', `${this.cfg.device} is mounted at ${mounted.join(', ')}; it may be the running system: check slots.${this.name}.device`);
    }
    for (const m of stale) await run('umount', [m]); // left by a run that died mid-write
    if (req.signal?.aborted) throw new FerryError('CANCELLED', 'cancelled before formatting; the slot is left marked bad');
    // An incremental write (device/reuse.ts) keeps the file system its check found clean.
    if (!req.reuse) {
      const [mkfs, args] = mkfsCommand(this.cfg);
      await run(mkfs, args);
    }
    await fsp.mkdir(this.mountPoint, { recursive: true });
    await run('mount', ['-t', this.cfg.fsType, this.cfg.device, this.mountPoint]);
    let result: SlotWriteResult | undefined;
    let failure: unknown;
    try {
      result = await applyWithEarlySync(req, this.mountPoint); // ends with syncfs(2) of this file system only
    } catch (e) {
      failure = e;
    }
    try {
      await run('umount', [this.mountPoint]);
    } catch (e) {
      failure ??= e;
    }
    if (failure !== undefined) throw toFerryError(failure);
    return { ...result!, details: { ...result!.details, device: this.cfg.device, fsType: this.cfg.fsType } };
  }
}

/** The factory registered as `block`. */
export function createBlockSlot(name: SlotName, config: unknown, ctx: { stateDir: string }): Slot {
  return new BlockSlot(name, parseBlockSlotConfig(name, config), ctx.stateDir);
}

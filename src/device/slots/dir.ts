/**
 * The `dir` slot: a directory that receives the root filesystem (containers,
 * chroot-style kiosks, tests). The directory itself is kept (it may be a mount
 * point); its contents are removed before the image is extracted into it.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../../errors.js';
import { runCommand } from '../bootloaders/common.js';
import { applyWithEarlySync } from './early-sync.js';
import { type ImageSize, type Slot, type SlotName, type SlotTree, type SlotWriteRequest, type SlotWriteResult, type SpaceNeed, unpackedNeed } from '../types.js';
import { parseMountinfo } from '../../util/mountinfo.js';
import { SlotParams } from './params.js';

/** A dir slot's parameters (DESIGN.md section 4). */
export interface DirSlotConfig {
  path: string;
}

/** Validate a dir slot's config; CONFIG_INVALID lists every problem. */
export function parseDirSlotConfig(name: SlotName, config: unknown, stateDir: string): DirSlotConfig {
  const p = new SlotParams(name, 'dir', config, ['path']);
  const dir = p.absolutePath('path', true);
  if (dir !== undefined) {
    if (dir === '/') p.bad.push(`slots.${name}.path is "/": ferry will never erase the root file system`);
    else if (isSameOrAncestor(dir, path.resolve(stateDir))) p.bad.push(`slots.${name}.path "${dir}" contains the state directory ${stateDir}; erasing it would erase ferry's state`);
  }
  p.check();
  return { path: dir! };
}

function isSameOrAncestor(a: string, b: string): boolean {
  return a === b || b.startsWith(a.endsWith('/') ? a : `${a}/`);
}

/**
 * Bytes an image may use at `p`: when `p` is a mount point of its own the whole file
 * system (its contents are erased before writing); otherwise the free space where it
 * (or its nearest existing ancestor) lives, plus what its current contents occupy
 * (erased first), or without them when they are too many to count (conservative). When the
 * free space alone is `enough`, the contents are not counted: that walk lstats every entry of
 * the slot (a quarter to half a second for 20,000 files), and an incremental write keeps most of them.
 */
export async function availableBytesAt(p: string, maxEntries = MAX_WALK_ENTRIES, enough?: number): Promise<number | undefined> {
  for (let d = p; ; d = path.dirname(d)) {
    try {
      const s = await fsp.statfs(d);
      if (d === p && d !== '/') {
        const [st, parent] = await Promise.all([fsp.stat(d), fsp.stat(path.dirname(d))]);
        if (st.dev !== parent.dev) return (s.blocks - (s.bfree - s.bavail)) * s.bsize;
        const free = s.bavail * s.bsize;
        if (enough !== undefined && free >= enough) return free;
        return free + ((await occupiedBytes(d, st.dev, maxEntries)) ?? 0);
      }
      return s.bavail * s.bsize;
    } catch {
      if (d === '/') return undefined;
    }
  }
}

/** Entries occupiedBytes walks before giving up (each costs one lstat). */
export const MAX_WALK_ENTRIES = 2_000_000;

/**
 * Bytes the entries below `dir` occupy on device `dev` (st_blocks·512, each inode once,
 * other file systems not entered, as `rm --one-file-system` leaves them), or undefined
 * after `maxEntries` entries or on any read error. A hard link to a file outside the
 * directory is counted although erasing frees nothing: the walk skips files whose link
 * count exceeds the links it saw, so only space really freed is counted.
 */
export async function occupiedBytes(dir: string, dev: number, maxEntries: number): Promise<number | undefined> {
  let total = 0;
  let seen = 0;
  const links = new Map<number, { nlink: number; seen: number; bytes: number }>();
  const stack: Buffer[] = [Buffer.from(dir)];
  try {
    while (stack.length) {
      const d = stack.pop()!;
      for (const name of await fsp.readdir(d, { encoding: 'buffer' })) {
        if (++seen > maxEntries) return undefined;
        const full = Buffer.concat([d, Buffer.from('/'), name]);
        // synchronous: a thread-pool round trip per entry costs more than the call (seconds for a big slot on a busy device)
        const st = fs.lstatSync(full);
        if (st.dev !== dev) continue;
        const bytes = st.blocks * 512;
        if (st.isDirectory()) {
          total += bytes;
          stack.push(full);
        } else if (st.nlink > 1) {
          const l = links.get(st.ino) ?? { nlink: st.nlink, seen: 0, bytes };
          l.seen++;
          links.set(st.ino, l);
        } else total += bytes;
      }
    }
  } catch {
    return undefined;
  }
  for (const l of links.values()) if (l.seen >= l.nlink) total += l.bytes;
  return total;
}

/**
 * Remove everything inside `dir` without crossing into other file systems mounted
 * below it (`rm --one-file-system` refuses them, and so does ferry: SLOT_BUSY).
 */
export async function emptyDirectory(dir: string): Promise<void> {
  const names = await fsp.readdir(dir);
  if (names.length === 0) return;
  const real = await fsp.realpath(dir);
  const inside = mountPointsBelow(await fsp.readFile('/proc/self/mountinfo', 'utf8'), real);
  if (inside.length) throw new FerryError('SLOT_BUSY', `cannot empty ${dir}: ${inside.join(', ')} ${inside.length === 1 ? 'is' : 'are'} mounted inside it; unmount first`, { details: { mounts: inside } });
  // find hands rm the names as bytes: readdir's UTF-8 strings cannot spell a name that is not
  // UTF-8, and rm -f would silently skip the mangled name, leaving the old entry in the new slot.
  const r = await runCommand('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-exec', 'rm', '-rf', '--one-file-system', '--', '{}', '+']);
  if (r.code === 0 && (await fsp.readdir(dir, { encoding: 'buffer' })).length > 0) {
    throw new FerryError('SLOT_WRITE_FAILED', `cannot empty ${dir}: entries are left after removing the old image; remove them by hand`);
  }
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').slice(-2).join(' / ') || `rm exited with status ${r.code ?? r.signal}`;
    // rm --one-file-system says "skipping ..., since it's on a different device" for a mount it met.
    const busy = /different device/.test(r.stderr);
    throw new FerryError(busy ? 'SLOT_BUSY' : 'SLOT_WRITE_FAILED', `cannot empty ${dir}: ${msg}${busy ? '; unmount what is mounted inside it' : ''}`, { details: { stderr: r.stderr } });
  }
}

/** Mount points strictly below `dir`, from /proc/self/mountinfo (field 5, octal escapes decoded). */
export function mountPointsBelow(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return parseMountinfo(mountinfo)
    .map((m) => m.point)
    .filter((m) => m.startsWith(prefix));
}

/** Refuse a directory that is, after following symlinks or bind mounts, the running system's root (`systemRoot`, "/" but in tests). */
export async function refuseBootedRoot(dir: string, systemRoot = '/'): Promise<void> {
  const [real, rootSt, dirSt] = await Promise.all([fsp.realpath(dir), fsp.stat(systemRoot), fsp.stat(dir)]);
  if (real === '/' || (dirSt.dev === rootSt.dev && dirSt.ino === rootSt.ino)) {
    throw new FerryError('UNSAFE_PATH', `${dir} is the running system's root directory; a dir slot must be a separate directory`);
  }
}

class DirSlot implements Slot {
  readonly type = 'dir';
  constructor(
    readonly name: SlotName,
    private readonly cfg: DirSlotConfig,
  ) {}

  describe(): string {
    return `dir ${this.cfg.path}`;
  }

  availableBytes(enough?: number): Promise<number | undefined> {
    return availableBytesAt(this.cfg.path, MAX_WALK_ENTRIES, enough);
  }

  /** The extracted root filesystem: the unpacked size. */
  requiredBytes(image: ImageSize): SpaceNeed {
    return unpackedNeed(image);
  }

  /** A directory can always be written into as it is. */
  async reuseProblem(): Promise<string | undefined> {
    return undefined;
  }

  /** The directory itself, as it is. */
  async openTree(): Promise<SlotTree> {
    return { root: this.cfg.path, ignore: [], release: async () => undefined };
  }

  async write(req: SlotWriteRequest): Promise<SlotWriteResult> {
    const dir = this.cfg.path;
    let started = false;
    try {
      await fsp.mkdir(dir, { recursive: true });
      await refuseBootedRoot(dir);
      // An incremental write (device/reuse.ts) keeps what is identical; a full one starts empty.
      if (!req.reuse) await emptyDirectory(dir);
      started = true;
      // Durable when it returns, before the pipeline records the slot and switches the bootloader:
      // it ends with a syncfs(2) of the slot's file system (GNU tar does not fsync what it writes).
      return await applyWithEarlySync(req, dir);
    } catch (e) {
      // The slot is marked bad and is rewritten in full next time: give its space back now, so a
      // bomb or a too-large image does not leave a full disk that the state directory may share.
      if (started) await emptyDirectory(dir).catch(() => undefined);
      throw toFerryError(e);
    }
  }
}

/** The factory registered as `dir`. */
export function createDirSlot(name: SlotName, config: unknown, ctx: { stateDir: string }): Slot {
  return new DirSlot(name, parseDirSlotConfig(name, config, ctx.stateDir));
}

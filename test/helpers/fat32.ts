/**
 * A real FAT32 stick for tests: an image formatted by mkfs.vfat -F 32 (dosfstools) on a
 * loop device, mounted by the kernel's vfat driver or, on kernels built without it (these
 * machines), by fusefat. Its cluster counts are read with fsck.fat -n -v, which walks the
 * FAT itself: the measurement does not depend on what the mount reports.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const KERNEL_VFAT = /\svfat$/m.test(readFileSync('/proc/filesystems', 'utf8'));
const FUSE_SUPER_MAGIC = 0x65735546;

/** A mounted FAT32 stick; `close()` unmounts it and frees the loop device. */
export interface Fat32Stick {
  img: string;
  loop: string;
  mountPoint: string;
  mount(): Promise<void>;
  unmount(): Promise<void>;
  /** Used and total data clusters, counted in the FAT by fsck.fat (read-only). */
  clusters(): { used: number; total: number };
  close(): Promise<void>;
}

/** Format `sizeMiB` of FAT32 in `dir`/stick.img, attach a loop device and mount it at `dir`/`name`. */
export async function makeFat32Stick(dir: string, sizeMiB: number, name: string): Promise<Fat32Stick> {
  const img = path.join(dir, `${name}.img`);
  await fsp.writeFile(img, '');
  await fsp.truncate(img, sizeMiB * 1024 * 1024);
  // not labelled FERRY: fusefat 0.1a lists the volume label as a root entry
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'STICK', img], { stdio: 'ignore' });
  const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  const mountPoint = path.join(dir, name);
  await fsp.mkdir(mountPoint);
  let fuse: ChildProcess | undefined;
  let mounted = false;
  const isMounted = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mountPoint);
  const fuseReady = async () => {
    if (!isMounted()) return false;
    try {
      return (await fsp.stat(mountPoint)).isDirectory() && Number((await fsp.statfs(mountPoint)).type) === FUSE_SUPER_MAGIC;
    } catch {
      return false;
    }
  };
  const stick: Fat32Stick = {
    img,
    loop,
    mountPoint,
    async mount() {
      if (KERNEL_VFAT) execFileSync('mount', ['-t', 'vfat', loop, mountPoint]);
      else {
        fuse = spawn('fusefat', ['-f', '-o', 'rw+', loop, mountPoint], { stdio: 'ignore' });
        for (let i = 0; i < 200 && !(await fuseReady()); i++) await new Promise((r) => setTimeout(r, 50));
      }
      if (!isMounted()) throw new Error(`${mountPoint} did not mount`);
      mounted = true;
    },
    async unmount() {
      if (!mounted) return;
      execFileSync('umount', [mountPoint]);
      mounted = false;
      const f = fuse;
      if (f && f.exitCode === null) await new Promise((r) => f.once('exit', r));
      fuse = undefined;
    },
    clusters() {
      execFileSync('sync');
      // exit 1 while mounted: the dirty bit is set (and, with -n, left alone); the counts are still the FAT's
      const r = spawnSync('fsck.fat', ['-n', '-v', loop], { encoding: 'utf8' });
      const m = /(\d+)\/(\d+) clusters/.exec(r.stdout);
      if (!m || (r.status !== 0 && r.status !== 1)) throw new Error(`fsck.fat exited ${r.status}: ${r.stdout}${r.stderr}`);
      return { used: Number(m[1]), total: Number(m[2]) };
    },
    async close() {
      await stick.unmount().catch(() => undefined);
      execFileSync('losetup', ['-d', loop]);
    },
  };
  try {
    await stick.mount();
  } catch (e) {
    await stick.close();
    throw e;
  }
  return stick;
}

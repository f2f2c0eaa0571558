/**
 * One device operation at a time: `<stateDir>/lock` is created with O_EXCL and
 * holds the owner's pid and boot id. A lock whose pid no longer runs (the owner
 * was killed) or that was taken in an earlier boot (the power went; pids are
 * reused after a reboot) is stale and taken over, so boot-check never waits on it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';

/** A held lock; `release` removes it (idempotent). */
export interface DeviceLock {
  readonly file: string;
  release(): Promise<void>;
}

/** True when a process with this pid exists (EPERM still means it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** This boot's id: a pid from an earlier boot means nothing now (pids restart at boot). */
async function bootId(): Promise<string> {
  return (await fsp.readFile(BOOT_ID_FILE, 'utf8').catch(() => '')).trim();
}

/** The pid holding the lock, or undefined when it is unreadable or from an earlier boot. */
async function readOwner(file: string): Promise<number | undefined> {
  try {
    const [pidText, boot] = (await fsp.readFile(file, 'utf8')).trim().split(/\s+/);
    const pid = Number.parseInt(pidText ?? '', 10);
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    if (boot !== undefined && boot !== (await bootId())) return -1;
    return pid;
  } catch {
    return undefined;
  }
}

async function youngerThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fsp.stat(file)).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Take the device lock in `stateDir`, taking over a stale one; LOCKED when another ferry holds it. */
export async function acquireLock(stateDir: string, what = 'device operation'): Promise<DeviceLock> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(file, 'wx', 0o600);
      await fh.writeFile(`${process.pid} ${await bootId()}\n`);
      await fh.sync();
      await fh.close();
      let released = false;
      return {
        file,
        release: async () => {
          if (released) return;
          released = true;
          await fsp.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FerryError('IO_ERROR', `cannot create lock ${file}: ${(e as Error).message}`, { cause: e });
    }
    const owner = await readOwner(file);
    if (owner !== undefined && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new FerryError('LOCKED', `another ferry ${what} is running (pid ${owner}); wait for it to finish`, { details: { pid: owner, lock: file } });
    }
    if (owner === undefined && (await youngerThan(file, 5000))) {
      throw new FerryError('LOCKED', `another ferry ${what} is starting (lock ${file} was just created); try again in a few seconds`, { details: { lock: file } });
    }
    // Stale: the owner is gone (or the file is empty from a crash mid-create). Remove and retry.
    await fsp.rm(file, { force: true });
  }
  throw new FerryError('LOCKED', `cannot take the lock ${file}: it keeps reappearing; another ferry may be starting`);
}

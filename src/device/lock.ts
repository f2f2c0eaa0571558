/**
 * One device operation at a time: `<stateDir>/lock` is created with O_EXCL and
 * holds the owner's pid and boot id. A lock whose pid no longer runs (the owner
 * was killed) or that was taken in an earlier boot (the power went; pids are
 * reused after a reboot) is stale and taken over, so boot-check never waits on it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fsyncDir } from '../util/fsx.js';
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

/** The pid holding a lock whose content is `text`: undefined when unreadable, -1 when from an earlier boot. */
async function lockOwner(text: string | undefined): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const [pidText, boot] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (boot !== undefined && boot !== (await bootId())) return -1;
  return pid;
}

async function youngerThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fsp.stat(file)).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Lock files this process holds now: its own pid in a lock is only stale when the lock is not one of these. */
const heldHere = new Set<string>();

/**
 * Remove a stale lock whose content was `seen`, serialised through `<lock>.break`
 * (O_EXCL): without it two callers that both judged the old lock stale could each
 * remove it, and the slower one would delete the lock the faster one had just taken.
 */
async function breakStaleLock(file: string, seen: string): Promise<void> {
  const breaker = `${file}.break`;
  let fh;
  try {
    fh = await fsp.open(breaker, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FerryError('IO_ERROR', `cannot create ${breaker}: ${(e as Error).message}`, { cause: e });
    // Another caller is breaking it right now; a breaker left by a crash is removed once old.
    if (!(await youngerThan(breaker, 10_000))) await fsp.rm(breaker, { force: true });
    return;
  }
  try {
    await fh.close();
    const now = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (now === seen) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
}

/** Take the device lock in `stateDir`, taking over a stale one; LOCKED when another ferry holds it. */
export async function acquireLock(stateDir: string, what = 'device operation'): Promise<DeviceLock> {
  await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(file, 'wx', 0o600);
      heldHere.add(file);
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
          heldHere.delete(file);
          // sync the removal: unsynced, a power cut brings the lock back (the next boot would
          // still take it over by boot id, but a clean release should stay released)
          await fsyncDir(stateDir).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FerryError('IO_ERROR', `cannot create lock ${file}: ${(e as Error).message}`, { cause: e });
    }
    if (heldHere.has(file)) throw new FerryError('LOCKED', `another ferry ${what} is running in this process; wait for it to finish`, { details: { pid: process.pid, lock: file } });
    const seen = await fsp.readFile(file, 'utf8').catch(() => undefined);
    const owner = await lockOwner(seen);
    if (owner !== undefined && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new FerryError('LOCKED', `another ferry ${what} is running (pid ${owner}); wait for it to finish`, { details: { pid: owner, lock: file } });
    }
    if (owner === undefined && (await youngerThan(file, 5000))) {
      throw new FerryError('LOCKED', `another ferry ${what} is starting (lock ${file} was just created); try again in a few seconds`, { details: { lock: file } });
    }
    // Stale: the owner is gone (or the file is empty from a crash mid-create). Remove it (once) and retry.
    if (seen !== undefined) await breakStaleLock(file, seen);
  }
  throw new FerryError('LOCKED', `cannot take the lock ${file}: it keeps reappearing; another ferry may be starting`);
}

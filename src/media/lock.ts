/**
 * The HQ write lock of a stick: `FERRY/.lock`, created with O_EXCL (works on FAT, which
 * has no hard links), holding the owner's pid, host, process start time and what it
 * does. Every HQ writer (export, sign, unarchive, revoke, publish-crl, cross-sign)
 * holds it, so two writers never interleave their index.json rewrites or delete each
 * other's temp files. A lock whose owner is gone (same host, pid dead or reused) is
 * stale and broken under a second O_EXCL file, so two waiters never both break it.
 *
 * A held lock also carries a journal of what this run wrote and has not yet made
 * reachable (blobs before index.json names them, a `.p7s` before its `.json`), so a
 * failed or cancelled run removes exactly its own leftovers (`rollback`, `cancelSync`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { isHostileMedia, isTempName, readFileCapped } from '../util/fsx.js';
import { EMPTY_INDEX, LAYOUT_MARKER } from '../oci/blob-store.js';
import { mediaPaths } from './store.js';

/** What a lock file says about its owner. */
export interface LockOwner {
  pid: number;
  host: string;
  /** Linux process start time (clock ticks since boot), to tell a reused pid from the owner. */
  start?: string;
  since: string;
  what: string;
  nonce: string;
}

/** Options of lockMedia. */
export interface LockOptions {
  /** How long to wait for another writer, in ms (default 120 s); 0 fails at once with MEDIA_BUSY. */
  waitMs?: number;
  /** Told once when we have to wait (the CLI prints it). */
  onWait?: (owner: LockOwner, lockFile: string) => void;
}

const active = new Set<MediaLock>();
const POLL_MS = 100;
const BREAKER_STALE_MS = 30_000;

function processStart(pid: number): string | undefined {
  try {
    // field 22 of /proc/<pid>/stat, counted after the ")" that ends the command name
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when the lock's owner is certainly gone: same host, and its pid is dead or now another process. */
export function isStale(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const start = processStart(owner.pid);
  return owner.start !== undefined && start !== undefined && start !== owner.start;
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    // never blocks: a FIFO or device at FERRY/.lock is UNSAFE_MEDIA, not a hang
    const o = JSON.parse((await readFileCapped(file, 64 * 1024, 'stick lock', { media: true })).toString('utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch (e) {
    if (isHostileMedia(e)) throw e;
    return undefined; // gone, or half written by its creator: look again
  }
}

/** The lock held by this process on one stick, with the journal of this run's unreachable writes. */
export class MediaLock {
  private readonly written = new Set<string>();
  private committed: string[] = [];
  private commits = 0;
  private released = false;

  constructor(
    readonly mediaRoot: string,
    readonly file: string,
    private readonly createdFerry: boolean,
  ) {}

  /** Record a file this run wrote that nothing references yet (removed by rollback/cancel). */
  wrote(file: string): void {
    this.written.add(file);
  }

  /** Everything recorded so far is now referenced (index.json or a manifest names it): keep it, even on Ctrl-C. */
  commit(): void {
    this.committed.push(...this.written);
    this.written.clear();
    this.commits++;
  }

  /** The run's work is on the media and named (committed, nothing written since): a Ctrl-C has nothing left to undo. */
  get settled(): boolean {
    return this.commits > 0 && this.written.size === 0;
  }

  /** Files committed earlier in this run, for an undo that first makes them unreferenced again (undoExport). */
  takeCommitted(): string[] {
    const out = this.committed;
    this.committed = [];
    return out;
  }

  /** Remove what this run wrote and did not commit; returns the files removed. */
  async rollback(): Promise<string[]> {
    const gone: string[] = [];
    for (const f of this.written) {
      await fsp.rm(f, { force: true });
      gone.push(f);
    }
    this.written.clear();
    return gone;
  }

  /** Release the lock (and the FERRY/ folder this run created, when still empty). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await fsp.rm(this.file, { force: true });
      if (this.createdFerry) await fsp.rmdir(path.dirname(this.file)).catch(() => undefined);
    } finally {
      // only now: a Ctrl-C while the lock file goes still sees the run (cli/cancel.ts), and
      // from here to the caller's return no signal handler can run (microtasks only)
      active.delete(this);
    }
  }

  /**
   * Synchronous cleanup for a signal handler: remove this run's uncommitted files, every
   * temp file under FERRY/ (only the lock holder writes there), and the lock.
   */
  cancelSync(): string[] {
    const p = mediaPaths(this.mediaRoot);
    const gone = [...this.written];
    for (const f of gone) rmSync(f, { force: true });
    for (const dir of [p.oci, path.join(p.oci, 'blobs', 'sha256'), p.updates, p.trust, path.join(p.trust, 'roots')]) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names.filter(isTempName)) {
        rmSync(path.join(dir, n), { force: true });
        gone.push(path.join(dir, n));
      }
    }
    // A Ctrl-C while a fresh layout was being set up (its folders made, index.json still a temp
    // file, removed above) must still leave a layout skopeo and umoci read: complete it, empty.
    if (existsSync(p.oci)) {
      mkdirSync(path.join(p.oci, 'blobs', 'sha256'), { recursive: true });
      if (!existsSync(path.join(p.oci, 'oci-layout'))) writeFileSync(path.join(p.oci, 'oci-layout'), LAYOUT_MARKER);
      if (!existsSync(path.join(p.oci, 'index.json'))) writeFileSync(path.join(p.oci, 'index.json'), EMPTY_INDEX);
    }
    rmSync(this.file, { force: true });
    if (this.createdFerry) {
      try {
        rmdirSync(p.ferry);
      } catch {
        // not empty: keep it
      }
    }
    this.released = true;
    active.delete(this);
    return gone;
  }
}

/** Locks this process holds (for a Ctrl-C handler). */
export function activeLocks(): MediaLock[] {
  return [...active];
}

async function tryCreate(file: string, owner: LockOwner, onCreated: () => void): Promise<boolean> {
  try {
    const fh = await fsp.open(file, 'wx', 0o644);
    // ours from this moment: a Ctrl-C while the owner record is written must still remove it
    onCreated();
    try {
      await fh.writeFile(JSON.stringify(owner) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // FERRY/ was removed by a writer that created it and just released it: make it again
    if (code === 'ENOENT') {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      return tryCreate(file, owner, onCreated);
    }
    throw e;
  }
}

/** Break a stale lock, guarded by `.lock.break` so that a lock taken meanwhile by a live writer is never removed. */
async function breakStale(file: string, stale: LockOwner): Promise<void> {
  const breaker = `${file}.break`;
  try {
    const st = await fsp.stat(breaker);
    if (Date.now() - st.mtimeMs > BREAKER_STALE_MS) await fsp.rm(breaker, { force: true });
  } catch {
    // no breaker: fine
  }
  const fh = await fsp.open(breaker, 'wx').catch(() => undefined);
  if (!fh) return;
  await fh.close();
  try {
    const now = await readOwner(file);
    if (now && now.nonce === stale.nonce) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
}

/** Take the write lock of the stick at `mediaRoot` (FERRY/ is created when missing); waits for a live writer, breaks a stale lock. */
export async function lockMedia(mediaRoot: string, what: string, opts: LockOptions = {}): Promise<MediaLock> {
  const { ferry } = mediaPaths(mediaRoot);
  let createdFerry = false;
  try {
    // the CLI checked the media path (media-path.ts); a library caller's folder is made when missing
    await fsp.mkdir(ferry, { recursive: true }).then((made) => (createdFerry = made !== undefined));
  } catch (e) {
    throw toFerryError(e, `cannot create ${ferry}`);
  }
  const file = path.join(ferry, '.lock');
  const start = processStart(process.pid);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), ...(start ? { start } : {}), since: new Date().toISOString(), what, nonce: randomBytes(8).toString('hex') };
  const deadline = Date.now() + (opts.waitMs ?? 120_000);
  let told = false;
  const lock = new MediaLock(mediaRoot, file, createdFerry);
  for (;;) {
    let created: boolean;
    try {
      created = await tryCreate(file, me, () => active.add(lock));
    } catch (e) {
      if (active.delete(lock)) await fsp.rm(file, { force: true });
      throw toFerryError(e, `cannot lock ${file}`);
    }
    if (created) return lock;
    const owner = await readOwner(file);
    if (owner && isStale(owner)) {
      await breakStale(file, owner);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = owner ? `pid ${owner.pid} on ${owner.host} (${owner.what}, since ${owner.since})` : 'another ferry';
      throw new FerryError('MEDIA_BUSY', `${mediaRoot} is being written by ${who}: wait for it to finish; if no ferry runs there any more, remove ${file}`, {
        details: { lockFile: file, ...(owner ? { owner } : {}) },
      });
    }
    if (owner && !told) {
      told = true;
      opts.onWait?.(owner, file);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Run `fn` holding the stick's lock; on failure this run's uncommitted files are removed, then the lock is released. */
export async function withMediaLock<T>(mediaRoot: string, what: string, opts: LockOptions, fn: (lock: MediaLock) => Promise<T>): Promise<T> {
  const lock = await lockMedia(mediaRoot, what, opts);
  try {
    return await fn(lock);
  } catch (e) {
    await lock.rollback().catch(() => undefined);
    throw e;
  } finally {
    await lock.release();
  }
}

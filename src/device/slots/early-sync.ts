/**
 * Early writeback of a slot being written. GNU tar leaves every page it writes dirty, and
 * Linux writes them back only past its thresholds (10% of memory: most of an image on a
 * device with a few GiB), so the disk idled while the slot was extracted and the final
 * syncfs then waited for the whole image. A `sync -f` of the slot's file system every
 * EARLY_SYNC_STEP bytes read from the stick, in the background and one at a time, makes the
 * disk write while the layers are still being decompressed; the final syncfs only finds the
 * tail. This changes when data reaches the disk, never the order of the commit: the slot
 * still gets its full syncfs after extraction, before anything is recorded or switched.
 * A background sync that fails fails the write (its syncfs may be the only one to see a
 * write-back error of that interval).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { FerryError } from '../../errors.js';
import type { ProgressFn } from '../../progress.js';
import { runCommand } from '../bootloaders/common.js';
import { applyImageToDir } from '../extract/apply.js';
import type { SlotWriteRequest, SlotWriteResult } from '../types.js';

/** Compressed bytes read from the stick between two background syncs (~2-3x that is written). */
export const EARLY_SYNC_STEP = 64 * 1024 * 1024;

/**
 * One helper process for all of a write's syncs: `sync -f <dir>` per request line, answering
 * "ok" or "fail". Spawned once, before the write starts: a fork of the busy, multi-threaded
 * ferry process in the middle of the write cost ~150 ms of its main thread each (measured:
 * 0.87 s for six syncs on a loaded machine); the small shell forks each `sync` instead.
 */
const HELPER = 'while read -r _; do if out=$(sync -f "$1" 2>&1); then echo ok; else printf \'fail %s\\n\' "$(printf %s "$out" | tr \'\\n\' \' \')"; fi; done';

/** sync's own words in a failure line: on the same line as the verdict, so no second pipe can lag behind it. */
const REASON_CAP = 4096;

/** Background `sync -f <dir>` while a slot is written. */
export class EarlySync {
  private readonly child: ChildProcess | undefined;
  private pending: Promise<void> | undefined;
  private answer: ((line: string | undefined) => void) | undefined;
  private failure: FerryError | undefined;
  private last = 0;
  private dead = false;

  constructor(
    private readonly dir: string,
    private readonly step = EARLY_SYNC_STEP,
  ) {
    try {
      const child = spawn('sh', ['-c', HELPER, 'ferry-early-sync', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
      child.on('error', () => this.gone());
      child.on('close', () => this.gone());
      child.stdin.on('error', () => undefined); // EPIPE when it is gone: 'close' says so
      child.stderr.resume(); // the shell's own complaints, if any: sync's are on stdout (HELPER)
      child.stdout.setEncoding('utf8');
      let buf = '';
      child.stdout.on('data', (t: string) => {
        buf += t;
        for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.answered(line);
        }
      });
      this.child = child;
    } catch {
      this.child = undefined; // no early writeback here: the final syncfs is what counts
    }
  }

  /** `inner`, also starting a background sync as the write's progress passes each step. */
  progress(inner: ProgressFn): ProgressFn {
    return (e) => {
      if (e.step === 'write') this.at(e.bytesDone);
      inner(e);
    };
  }

  private at(done: number): void {
    if (this.child === undefined || this.dead || this.pending !== undefined || done - this.last < this.step) return;
    this.last = done;
    this.pending = this.ask().then((line) => {
      this.pending = undefined;
      if (line !== undefined && line !== 'ok') this.failure ??= this.syncError(line);
    });
  }

  /** One `sync -f` through the helper: its answer line, or undefined when the helper is gone (or went meanwhile). */
  private ask(): Promise<string | undefined> {
    const answered = new Promise<string | undefined>((r) => (this.answer = r));
    this.child!.stdin!.write('\n');
    return answered;
  }

  /** The error of a failed sync, with sync's own words from its `fail …` line. */
  private syncError(line: string): FerryError {
    return new FerryError('SLOT_WRITE_FAILED', `cannot sync ${this.dir}: ${line.slice(5, 5 + REASON_CAP).trim() || 'sync failed'}`);
  }

  private answered(line: string | undefined): void {
    const a = this.answer;
    this.answer = undefined;
    a?.(line);
  }

  /** The helper exited (or never ran): a request in flight gets no answer, and no more are made. */
  private gone(): void {
    this.dead = true;
    this.answered(undefined);
  }

  /** Wait for the sync in flight, if any (the helper keeps running). */
  async drained(): Promise<void> {
    await this.pending;
  }

  /**
   * A full `sync -f` of the slot now, after the one in flight, through the helper (no fork of
   * this large process); when the helper is gone, `sync` is run directly. Throws SLOT_WRITE_FAILED
   * when this sync, or an earlier background one, failed.
   */
  async syncNow(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure;
    let line = this.child !== undefined && !this.dead ? await this.ask() : undefined;
    if (line === undefined) {
      const r = await runCommand('sync', ['-f', this.dir]);
      line = r.code === 0 ? 'ok' : `fail ${r.stderr.trim() || `sync exited with ${r.code ?? r.signal}`}`;
    }
    if (line !== 'ok') throw this.syncError(line);
  }

  /** Wait for the sync in flight and stop the helper; throws when a sync failed. */
  async settle(): Promise<void> {
    await this.pending;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.stdin!.end();
      await closed;
    }
    if (this.failure) throw this.failure;
  }
}

/**
 * applyImageToDir into `root` with background syncs of its file system while it writes, then
 * the slot's full sync (syncfs), through the same helper: the slot is durable when this returns.
 * `req.onExtracted` is called between the extraction and that sync, so the engine can write
 * the file index while the disk catches up. A failed sync fails the write; when the write
 * itself fails, its error is the one thrown.
 */
export async function applyWithEarlySync(req: SlotWriteRequest, root: string): Promise<SlotWriteResult> {
  const early = new EarlySync(root);
  let result: SlotWriteResult;
  try {
    result = await applyImageToDir({ ...req, root, progress: early.progress(req.progress) });
    req.onExtracted?.(result);
    await early.syncNow();
  } catch (e) {
    await early.settle().catch(() => undefined); // the helper stops either way
    throw e;
  }
  await early.settle();
  return result;
}

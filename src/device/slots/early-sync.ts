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
import { FerryError } from '../../errors.js';
import type { ProgressFn } from '../../progress.js';
import { runCommand } from '../bootloaders/common.js';

/** Compressed bytes read from the stick between two background syncs (~2-3x that is written). */
export const EARLY_SYNC_STEP = 64 * 1024 * 1024;

/** Background `sync -f <dir>` while a slot is written. */
export class EarlySync {
  private pending: Promise<void> | undefined;
  private failure: FerryError | undefined;
  private last = 0;

  constructor(
    private readonly dir: string,
    private readonly step = EARLY_SYNC_STEP,
  ) {}

  /** `inner`, also starting a background sync as the write's progress passes each step. */
  progress(inner: ProgressFn): ProgressFn {
    return (e) => {
      if (e.step === 'write') this.at(e.bytesDone);
      inner(e);
    };
  }

  private at(done: number): void {
    if (this.pending !== undefined || done - this.last < this.step) return;
    this.last = done;
    this.pending = runCommand('sync', ['-f', this.dir]).then(
      (r) => {
        if (r.code !== 0) this.failure ??= new FerryError('SLOT_WRITE_FAILED', `cannot sync ${this.dir}: ${r.stderr.trim() || `sync exited with ${r.code ?? r.signal}`}`);
        this.pending = undefined;
      },
      (e: unknown) => {
        this.failure ??= new FerryError('SLOT_WRITE_FAILED', `cannot sync ${this.dir}: ${(e as Error).message}`, { cause: e });
        this.pending = undefined;
      },
    );
  }

  /** Wait for the sync in flight; throws when one failed. */
  async settle(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure;
  }
}

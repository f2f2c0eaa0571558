/**
 * Export's one progress stream (issue 11, finding 14): bytes of the image's layers and
 * config processed so far against their total, so a bar, a rate and an ETA make sense
 * across blobs. The blob store's per-blob `write-blob` events are offset into it; which
 * layer is running goes into `item`/`items`, never into the byte fields; the last event
 * reaches the total.
 */
import type { ProgressFn } from '../progress.js';

/** The running tally of one export. */
export class ExportProgress {
  private done = 0;
  /** Bytes of the blobs in progress (several at once when a registry's layers download together). */
  private readonly running = new Map<number, number>();

  /** `total` = the sizes the source gives for the layers and the config (an estimate for a rootfs). */
  constructor(
    private readonly sink: ProgressFn | undefined,
    readonly total: number,
    private readonly items: number,
  ) {}

  /** The sink for one blob of `size` bytes: its own events, offset by what came before and kept inside its share. */
  blob(item: number, size: number, detail: string): ProgressFn | undefined {
    const sink = this.sink;
    if (!sink) return undefined;
    this.running.set(item, 0);
    this.emit(this.current(), item, detail);
    return (e) => {
      this.running.set(item, Math.min(e.bytesDone, size));
      sink({ step: 'export', bytesDone: this.current(), bytesTotal: this.total, item, items: this.items, detail });
    };
  }

  private current(): number {
    let n = this.done;
    for (const b of this.running.values()) n += b;
    return Math.min(this.total, n);
  }

  /** A blob of `size` bytes is finished (written, or found intact on the media). */
  finish(size: number, item: number, detail: string): void {
    this.running.delete(item);
    this.done = Math.min(this.total, this.done + size);
    this.emit(this.current(), item, detail);
  }

  /** The export is complete: the last event, at the total. */
  end(detail: string): void {
    this.done = this.total;
    this.sink?.({ step: 'export', bytesDone: this.total, bytesTotal: this.total, items: this.items, detail });
  }

  private emit(bytesDone: number, item: number, detail: string): void {
    this.sink?.({ step: 'export', bytesDone, bytesTotal: this.total, item, items: this.items, detail });
  }
}

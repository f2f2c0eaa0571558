/**
 * Progress is an event stream (STYLE.md rule 5): the core emits these; the CLI draws
 * a bar, the TUI a gauge, --json prints them as JSON lines.
 */

/** One progress event. `bytesTotal` 0 means "unknown". */
export interface ProgressEvent {
  step: string;
  bytesDone: number;
  bytesTotal: number;
  /** Human detail, e.g. the blob digest or the file being written. */
  detail?: string;
  /** Which of `items` things (layers, blobs) the bytes belong to, 1-based; counts never go into the byte fields. */
  item?: number;
  items?: number;
  /** Added by the CLI's JSON sink: the recent rate, and seconds left at it (null while unknown). */
  bytesPerSecond?: number;
  etaSeconds?: number | null;
}

/** A progress sink. Must be cheap; the core calls it at most every few MiB or per blob. */
export type ProgressFn = (e: ProgressEvent) => void;

/** A sink that ignores events. */
export const noProgress: ProgressFn = () => undefined;

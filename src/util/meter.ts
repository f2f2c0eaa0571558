/**
 * Throughput and ETA from progress events (pure: the clock is passed in), for the TUI's
 * gauges and the CLI's progress bar. A sliding
 * window keeps the MB/s figure honest when the stick stalls or the page cache flushes.
 */

/** The meter's state; treat as immutable. */
export interface Meter {
  startedAt: number;
  bytesDone: number;
  bytesTotal: number;
  /** Recent samples [time ms, bytesDone], oldest first. */
  samples: Array<[number, number]>;
  /** Set when the work is really finished (last byte verified and synced). */
  finished: boolean;
}

const WINDOW_MS = 5000;
const SAMPLE_MS = 100;

/** A fresh meter. */
export function startMeter(now: number, bytesTotal: number): Meter {
  return { startedAt: now, bytesDone: 0, bytesTotal, samples: [[now, 0]], finished: false };
}

/** Record that `bytesDone` of `bytesTotal` are done at time `now` (samples kept >= 100 ms apart, so this stays O(1)-ish per event). */
export function updateMeter(m: Meter, now: number, bytesDone: number, bytesTotal = m.bytesTotal): Meter {
  const last = m.samples[m.samples.length - 1];
  const kept = last !== undefined && now - last[0] < SAMPLE_MS && m.samples.length > 1 ? m.samples.slice(0, -1) : m.samples;
  const samples = [...kept.filter(([t]) => now - t <= WINDOW_MS), [now, bytesDone] as [number, number]];
  return { ...m, bytesDone, bytesTotal, samples };
}

/** Mark the work finished: only now may the percentage reach 100. */
export function finishMeter(m: Meter, now: number): Meter {
  return { ...updateMeter(m, now, m.bytesTotal > 0 ? m.bytesTotal : m.bytesDone), finished: true };
}

/** Bytes per second over the window (undefined until there are two samples apart in time). */
export function rate(m: Meter): number | undefined {
  const first = m.samples[0];
  const last = m.samples[m.samples.length - 1];
  if (!first || !last || last[0] - first[0] < 200) return undefined;
  return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
}

/** Seconds left at the current rate. */
export function eta(m: Meter): number | undefined {
  const r = rate(m);
  if (r === undefined || r <= 0 || m.bytesTotal <= 0) return undefined;
  return Math.max(0, m.bytesTotal - m.bytesDone) / r;
}

/** Whole percent; never 100 before `finished`, so "100%" always means done and synced. */
export function percent(m: Meter): number {
  if (m.finished) return 100;
  if (m.bytesTotal <= 0) return 0;
  return Math.min(99, Math.floor((m.bytesDone * 100) / m.bytesTotal));
}

/** MB/s (decimal megabytes, as drives are sold) with one decimal, or "--". */
export function formatRate(m: Meter): string {
  const r = rate(m);
  return r === undefined ? '-- MB/s' : `${(r / 1e6).toFixed(1)} MB/s`;
}

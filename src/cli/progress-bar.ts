/**
 * The CLI's progress sink (STYLE.md rule 5; issue 11, finding 14): with `--progress`, JSON
 * lines on stderr with the rate and ETA added; on a terminal, one bar line with MB/s and
 * ETA that ends in a "done" line of its own; nothing otherwise. run.ts's printers end an
 * open bar line first, so a summary never lands on the bar's line.
 */
import type { ProgressEvent, ProgressFn } from '../progress.js';
import { eta, type Meter, rate, startMeter, updateMeter } from '../util/meter.js';
import { sanitize, terminalSafeJson } from '../util/terminal.js';

/** Whether a bar line is open on stderr (drawn with \r, not yet ended by a newline). */
let barOpen = false;

/** End an open bar line, so the next line printed starts on a line of its own. */
export function endBar(): void {
  if (!barOpen) return;
  barOpen = false;
  process.stderr.write('\n');
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function clock(sec: number): string {
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** One stream of events (a step): its meter, and whether its done line was drawn. */
interface Stream {
  step: string;
  meter: Meter;
  started: number;
  finished: boolean;
}

/** Bytes per second: over the meter's window, else the average since the step began (undefined at its first event). */
function bytesPerSecond(s: Stream, now: number): number | undefined {
  const windowed = rate(s.meter);
  if (windowed !== undefined) return windowed;
  const took = now - s.started;
  return took > 0 && s.meter.bytesDone > 0 ? (s.meter.bytesDone * 1000) / took : undefined;
}

/** Seconds left at that rate (0 when done, undefined while unknown). */
function secondsLeft(s: Stream, r: number | undefined): number | undefined {
  if (s.meter.bytesTotal > 0 && s.meter.bytesDone >= s.meter.bytesTotal) return 0;
  return eta(s.meter) ?? (r !== undefined && r > 0 && s.meter.bytesTotal > 0 ? (s.meter.bytesTotal - s.meter.bytesDone) / r : undefined);
}

/** The bar line of an event (pure). */
export function barLine(e: ProgressEvent, r: number | undefined, left: number | undefined): string {
  const width = 30;
  const frac = e.bytesTotal > 0 ? Math.min(1, e.bytesDone / e.bytesTotal) : 0;
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
  const item = e.item !== undefined && e.items !== undefined ? ` (${e.item}/${e.items})` : '';
  const speed = r === undefined ? '-- MB/s' : `${(r / 1e6).toFixed(1)} MB/s`;
  return `${e.step.padEnd(10)} [${bar}] ${mib(e.bytesDone)}${e.bytesTotal ? ` / ${mib(e.bytesTotal)}` : ''}${item}  ${speed}  ETA ${left === undefined ? '-:--' : clock(left)}`;
}

/** The done line of a step (pure). */
export function doneLine(step: string, bytes: number, ms: number): string {
  const took = Math.max(ms, 1);
  return `${step.padEnd(10)} done: ${mib(bytes)} in ${(took / 1000).toFixed(1)} s, ${((bytes * 1000) / took / 1e6).toFixed(1)} MB/s`;
}

/** The sink for a command's `--progress` option; undefined when nothing is to be shown. */
export function cliProgress(opts: { progress?: boolean }): ProgressFn | undefined {
  if (!opts.progress && !process.stderr.isTTY) return undefined;
  let s: Stream | undefined;
  const track = (e: ProgressEvent, now: number): Stream => {
    if (!s || s.step !== e.step || e.bytesDone < s.meter.bytesDone) s = { step: e.step, meter: startMeter(now, e.bytesTotal), started: now, finished: false };
    s.meter = updateMeter(s.meter, now, e.bytesDone, e.bytesTotal);
    return s;
  };
  if (opts.progress) {
    return (e) => {
      const st = track(e, performance.now());
      const r = bytesPerSecond(st, performance.now());
      const left = secondsLeft(st, r);
      process.stderr.write(terminalSafeJson({ ...e, bytesPerSecond: Math.round(r ?? 0), etaSeconds: left === undefined ? null : Math.round(left) }) + '\n');
    };
  }
  return (e) => {
    const now = performance.now();
    const st = track(e, now);
    if (st.finished) return;
    const complete = e.bytesTotal > 0 && e.bytesDone >= e.bytesTotal;
    const r = bytesPerSecond(st, now);
    // the carriage return is ferry's own; the step name and detail are sanitised like every printed string
    const text = complete ? doneLine(e.step, e.bytesTotal, now - st.started) : barLine(e, r, secondsLeft(st, r));
    process.stderr.write(`\r${sanitize(text).padEnd(78).slice(0, 100)}`);
    barOpen = true;
    if (complete) {
      st.finished = true;
      endBar();
    }
  };
}

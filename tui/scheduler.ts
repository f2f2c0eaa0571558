/**
 * Repaint pacing: keys repaint at once (on the next turn of the event loop), progress
 * repaints at most every `minIntervalMs` (default 100 ms, ~10 per second), so a fast
 * stream of progress events never starves key handling.
 */

/** Timer functions, injectable for tests. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  setImmediate(fn: () => void): unknown;
}

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setImmediate: (fn) => setImmediate(fn),
};

/** Returns `request(urgent)`; `paint` runs coalesced and paced. */
export function createRepaintScheduler(paint: () => void, minIntervalMs = 100, timers: Timers = realTimers): (urgent: boolean) => void {
  let last = -Infinity;
  let timerPending = false;
  let immediatePending = false;
  const run = () => {
    last = timers.now();
    paint();
  };
  return (urgent: boolean) => {
    if (urgent) {
      if (immediatePending) return;
      immediatePending = true;
      timers.setImmediate(() => {
        immediatePending = false;
        run();
      });
      return;
    }
    if (timerPending || immediatePending) return;
    timerPending = true;
    timers.setTimeout(() => {
      timerPending = false;
      run();
    }, Math.max(0, last + minIntervalMs - timers.now()));
  };
}

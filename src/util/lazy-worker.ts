/**
 * One process-wide worker thread, started from inline source on first use (so it also runs from
 * the single executable, which has no files beside it) and never restarted once it failed: from
 * then on `get()` answers undefined and the caller does the work on its own thread. Idle, it
 * does not keep the process alive (callers `ref()` it while a job is in flight).
 */
import { Worker } from 'node:worker_threads';

export class LazyWorker<M> {
  private worker: Worker | undefined;
  private broken = false;

  constructor(
    private readonly source: string,
    /** What the thread does, for the error when it exits ("the chunk hashing thread exited …"). */
    private readonly name: string,
    private readonly onMessage: (m: M, w: Worker) => void,
    /** The thread failed or exited: nothing of it runs any more (called for each of the two events). */
    private readonly onGone: (e: Error) => void,
  ) {}

  /** The worker, started now if it was not; undefined where none can run or it failed. */
  get(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    try {
      const w = new Worker(this.source, { eval: true });
      w.on('message', (m: M) => this.onMessage(m, w));
      const fail = (e: Error): void => {
        this.broken = true;
        this.worker = undefined;
        this.onGone(e);
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`the ${this.name} thread exited with code ${code}`)));
      w.unref();
      this.worker = w;
    } catch {
      this.broken = true;
    }
    return this.worker;
  }
}

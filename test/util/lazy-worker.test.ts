import { describe, expect, it } from 'vitest';
import { LazyWorker } from '../../src/util/lazy-worker.js';

describe('LazyWorker', () => {
  it('starts one worker on first use, routes its messages, and keeps it', async () => {
    const got: number[] = [];
    let answered!: () => void;
    const done = new Promise<void>((r) => (answered = r));
    const lazy = new LazyWorker<number>("require('node:worker_threads').parentPort.on('message', (n) => require('node:worker_threads').parentPort.postMessage(n * 2));", 'doubling', (m) => {
      got.push(m);
      answered();
    }, () => undefined);
    const w = lazy.get()!;
    expect(lazy.get()).toBe(w);
    w.ref();
    w.postMessage(21);
    await done;
    expect(got).toEqual([42]);
    await w.terminate();
  });

  it('reports a worker that failed, and never starts another', async () => {
    const gone: string[] = [];
    let exited!: () => void;
    const both = new Promise<void>((r) => (exited = r));
    const lazy = new LazyWorker<never>("throw new Error('broken on purpose')", 'test', () => undefined, (e) => {
      gone.push(e.message);
      if (gone.length === 2) exited(); // the error, then the exit that follows it
    });
    const w = lazy.get();
    expect(w).toBeDefined();
    w!.ref();
    await both;
    expect(gone[0]).toMatch(/broken on purpose/);
    expect(gone[1]).toMatch(/the test thread exited with code 1/);
    expect(lazy.get()).toBeUndefined();
  });
});

/**
 * Whole-blob SHA-256 on a worker thread, so `verify --media` hashes two blobs at once on a
 * machine with two cores (one SHA-256 stream cannot be split, several blobs can). The main
 * thread opens the file with all of its checks (openRegular) and hands the worker only the
 * open descriptor and the byte range: the worker reads that descriptor (1 MiB reads into one
 * buffer, hashed while still in cache: see CHUNK in verify.ts) and never opens a path itself.
 * The worker is started from inline source (it also runs from the single executable) and does
 * not keep the process alive when idle.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const buf = Buffer.allocUnsafe(1024 * 1024);
parentPort.on('message', (m) => {
  try {
    const hash = createHash('sha256');
    let pos = m.start;
    let sinceReport = 0;
    for (;;) {
      const want = Math.min(buf.length, m.end - pos);
      if (want <= 0) break;
      const n = fs.readSync(m.fd, buf, 0, want, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
      sinceReport += n;
      if (sinceReport >= 16 * 1024 * 1024) {
        parentPort.postMessage({ id: m.id, bytes: sinceReport });
        sinceReport = 0;
      }
    }
    parentPort.postMessage({ id: m.id, bytes: sinceReport, digest: 'sha256:' + hash.digest('hex'), size: pos - m.start });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});
`;

interface Reply {
  id: number;
  bytes?: number;
  digest?: string;
  size?: number;
  error?: string;
}

interface Job {
  onBytes: (n: number) => void;
  resolve: (r: { digest: string; size: number }) => void;
  reject: (e: Error) => void;
}

/** One hashing worker; `close()` when done. */
export class BlobHashWorker {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private next = 0;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (m: Reply) => this.onReply(m));
    this.worker.on('error', (e) => {
      for (const j of this.jobs.values()) j.reject(e);
      this.jobs.clear();
    });
    this.worker.unref();
  }

  /** sha256 of `size` bytes from `start` of the open descriptor `fd` (kept open by the caller until this settles). */
  hash(fd: number, start: number, size: number, onBytes: (n: number) => void): Promise<{ digest: string; size: number }> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { onBytes, resolve, reject });
      this.worker.ref(); // a hash in flight keeps the process alive until it is answered
      this.worker.postMessage({ id, fd, start, end: start + size });
    });
  }

  /** Stop the worker. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private onReply(m: Reply): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.bytes) job.onBytes(m.bytes);
    if (m.digest === undefined && m.error === undefined) return;
    this.jobs.delete(m.id);
    if (this.jobs.size === 0) this.worker.unref();
    if (m.error !== undefined) job.reject(new Error(m.error));
    else job.resolve({ digest: m.digest!, size: m.size! });
  }
}

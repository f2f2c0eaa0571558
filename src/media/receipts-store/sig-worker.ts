/**
 * Collect's signature checks on a worker thread: the main thread reads, parses and checks each
 * receipt against the schema and stores it; the worker makes each signature check (canonical
 * bytes, the key, ECDSA) from the file's bytes, so the two cores share collect's work. Before,
 * the main thread also made the canonical bytes, read the keys and handed every verification to
 * libuv's pool, one job per receipt (10,000 dispatches and promises).
 *
 * The worker runs trust/receipt-signature-core.ts's own function (its source, as inline worker
 * source: this also runs from the single executable), and decodes each file exactly as the main
 * thread's strict parse did (util/json.ts: fatal UTF-8, a BOM dropped, then JSON.parse). Only
 * files that passed that parse (no duplicate keys, bounded nesting) are sent, so both threads see
 * the same value. The outcomes are the ones receiptSignatureOutcome gives on the main thread.
 * When the worker falls LOCAL_WHEN_BEHIND receipts behind (it counts what it has done in shared
 * memory, which the main thread reads without waiting for a message), the main thread checks the
 * next chunk itself, on the receipts it has just parsed: the two threads share the work whatever
 * each one's speed. If the worker cannot run, the main thread checks everything.
 */
import { Worker } from 'node:worker_threads';
import { receiptSignatureOutcome, type KeyCache } from '../../trust/receipt-signature.js';
import { receiptSignatureCore } from '../../trust/receipt-signature-core.js';
import { parseStrictJson } from '../../util/json.js';
import { RECEIPT_CAP } from './schema.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const done = new Int32Array(workerData.done);
const core = (${receiptSignatureCore.toString()})(require('node:crypto'));
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const keys = new Map();
parentPort.on('message', (m) => {
  const bytes = new Uint8Array(m.buf);
  const sigs = [];
  let start = 0;
  for (const end of m.ends) {
    let receipt;
    try {
      receipt = JSON.parse(decoder.decode(bytes.subarray(start, end)));
    } catch {
      receipt = undefined;
    }
    sigs.push(receipt !== null && typeof receipt === 'object' ? core.outcome(receipt, keys) : 'bad:the receipt could not be read for its signature check');
    start = end;
    Atomics.add(done, 0, 1);
  }
  parentPort.postMessage({ id: m.id, sigs });
});
`;

/** Receipts sent to the worker at a time: small enough that the worker starts early and the last wait is short. */
const CHUNK = 250;
/** The worker this many receipts behind: the main thread checks the next chunk itself. */
const LOCAL_WHEN_BEHIND = 2 * CHUNK;

interface Chunk {
  files: Buffer[];
  resolve: (sigs: string[]) => void;
}

/** Signature outcomes of receipt files, from a worker thread (or, `inWorker: false` or if it fails, this thread). */
export class SignatureChecker {
  private worker: Worker | undefined;
  private readonly sent = new Map<number, Chunk>();
  private next = 0;
  private files: Buffer[] = [];
  private outcomes: Promise<string[]> | undefined;
  private resolveChunk: ((sigs: string[]) => void) | undefined;
  /** Receipts checked on this thread in the current chunk (the worker was behind when it began). */
  private local = 0;
  private readonly keys: KeyCache = new Map();
  /** Receipts sent to the worker, and (shared with it) how many it has checked. */
  private sentReceipts = 0;
  private readonly done = new Int32Array(new SharedArrayBuffer(4));

  constructor(inWorker = true) {
    if (!inWorker) return;
    try {
      this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { done: this.done.buffer } });
    } catch {
      return; // checked on this thread
    }
    this.worker.on('message', (m: { id: number; sigs: string[] }) => {
      const c = this.sent.get(m.id);
      this.sent.delete(m.id);
      if (this.sent.size === 0) this.worker?.unref();
      c?.resolve(m.sigs);
    });
    this.worker.on('error', () => this.fallBack());
    this.worker.on('exit', () => this.fallBack());
    this.worker.unref();
  }

  /**
   * The outcome for one receipt file that passed the strict parse (`receipt` is what it parsed to):
   * "ok:<key id>", "unsigned" or "bad:<why>".
   */
  check(bytes: Buffer, receipt: Record<string, unknown>): Promise<string> {
    if (this.local === 0 && this.files.length === 0 && (this.worker === undefined || this.sentReceipts - Atomics.load(this.done, 0) >= LOCAL_WHEN_BEHIND)) this.local = CHUNK;
    if (this.local > 0) {
      this.local--;
      return Promise.resolve(receiptSignatureOutcome(receipt, this.keys));
    }
    if (this.outcomes === undefined) this.outcomes = new Promise((resolve) => (this.resolveChunk = resolve));
    const at = this.files.push(bytes) - 1;
    const sig = this.outcomes.then((sigs) => sigs[at]!);
    if (this.files.length >= CHUNK) this.flush();
    return sig;
  }

  /** Send the receipts gathered so far (a batch waits for its outcomes). */
  flush(): void {
    this.local = 0;
    if (this.files.length === 0) return;
    const files = this.files;
    const resolve = this.resolveChunk!;
    this.files = [];
    this.outcomes = undefined;
    if (this.worker === undefined) return resolve(this.onThisThread(files));
    const id = this.next++;
    this.sent.set(id, { files, resolve });
    this.sentReceipts += files.length;
    // one transferred buffer per chunk, not 250 structured-clone copies
    const ends: number[] = [];
    const buf = new Uint8Array(files.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of files) {
      buf.set(f, off);
      ends.push((off += f.length));
    }
    this.worker.ref(); // a chunk in flight keeps the process alive until it is answered
    this.worker.postMessage({ id, buf: buf.buffer, ends }, [buf.buffer]);
  }

  /** Receipts the worker has checked so far (the rest were checked on this thread). */
  get checkedInWorker(): number {
    return Atomics.load(this.done, 0);
  }

  /** Stop the worker (collect is done, or failed). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private onThisThread(files: Buffer[]): string[] {
    return files.map((f) => {
      let receipt: unknown;
      try {
        receipt = parseStrictJson(f, RECEIPT_CAP, 'receipt');
      } catch {
        receipt = undefined;
      }
      return receipt !== null && typeof receipt === 'object' ? receiptSignatureOutcome(receipt as Record<string, unknown>, this.keys) : 'bad:the receipt could not be read for its signature check';
    });
  }

  /** The worker failed or exited: the chunks it had not answered are checked on this thread, and so is the rest. */
  private fallBack(): void {
    if (this.worker === undefined) return;
    this.worker = undefined;
    for (const c of this.sent.values()) c.resolve(this.onThisThread(c.files));
    this.sent.clear();
  }
}

/**
 * The fast path of a blob download: one HTTP/1.1 GET on a socket of its own, whose body is
 * read by the kernel straight into the caller's buffers (net.Socket `onread`), 4 MiB at a
 * time. Node's http client hands the body over in 64 KiB Buffers, each through the parser,
 * an event and a later copy: for a large layer that costs about three times the download
 * itself (bench, export from a registry). Only the plain case is handled here: a status
 * line, headers and a Content-Length body. Anything else (chunked encoding, an odd header
 * block) is left to the http client, which the caller falls back to (blob-fetch.ts).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

/** How to open the socket: TLS settings of the transport. */
export interface RawConnectOptions {
  ca?: string[];
  rejectUnauthorized: boolean;
  timeoutMs: number;
}

const HEAD_CAP = 64 * 1024;

/** An answer whose status and headers are read; the body is read with fill(). */
export class RawResponse {
  status = 0;
  readonly headers: Record<string, string> = {};
  /** Body bytes announced by Content-Length (-1 when there is none). */
  length = -1;
  private received = 0;
  private headBuf = Buffer.allocUnsafe(HEAD_CAP);
  private headFill = 0;
  private pending: Buffer[] = [];
  /** The read buffer while nobody waits (one per response: onData copies out of it before the next read). */
  private spare: Buffer | undefined;
  private target: { buf: Buffer; fill: number; resolve: (n: number) => void } | undefined;
  private inHead = true;
  private headDone: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private headError: Error | undefined;
  /** The last buffer handed to the socket was the caller's (else a spare one). */
  private intoTarget = false;
  private ended = false;
  /** Why the body stopped early (socket error or close); undefined while it is fine. */
  failure: Error | undefined;
  private readonly socket: net.Socket;

  private constructor(url: URL, headers: Record<string, string>, o: RawConnectOptions) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const onread = { buffer: () => this.space(), callback: (n: number, b: Uint8Array) => this.onData(n, b) };
    this.socket =
      url.protocol === 'https:'
        ? tls.connect({ host: url.hostname, port, servername: net.isIP(url.hostname) ? '' : url.hostname, ...(o.ca ? { ca: o.ca } : {}), rejectUnauthorized: o.rejectUnauthorized, onread } as tls.ConnectionOptions)
        : net.connect({ host: url.hostname, port, onread });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(o.timeoutMs, () => this.socket.destroy(Object.assign(new Error(`no answer from ${url.host} in ${o.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    this.socket.on('error', (e) => this.stop(e));
    this.socket.on('end', () => this.stop());
    this.socket.on('close', () => this.stop());
    const lines = Object.entries({ host: url.host, ...headers, connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
    this.socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join('')}\r\n`);
  }

  /** Send a GET and wait for its status line and headers. Rejects on a socket error or a header block that is not plain HTTP/1.1. */
  static async get(url: URL, headers: Record<string, string>, o: RawConnectOptions): Promise<RawResponse> {
    const r = new RawResponse(url, headers, o);
    await new Promise<void>((resolve, reject) => {
      if (!r.inHead) return r.headError ? reject(r.headError) : resolve();
      r.headDone = { resolve, reject };
    });
    return r;
  }

  /** Where the next socket read goes: the free part of the caller's buffer, else the header buffer or a spare one. */
  private space(): Uint8Array {
    const t = this.target;
    this.intoTarget = !this.inHead && t !== undefined;
    if (this.inHead) return this.headBuf.subarray(this.headFill);
    if (t) return t.buf.subarray(t.fill, t.fill + Math.min(t.buf.length - t.fill, this.length - this.received));
    // Node asks for the next read's buffer as soon as a fill completes, before the caller's next
    // fill names its own: the first read of each fill lands here and is copied on
    return (this.spare ??= Buffer.allocUnsafe(64 * 1024));
  }

  private onData(n: number, b: Uint8Array): boolean {
    if (this.inHead) return this.headRead(n);
    const t = this.target;
    if (t && this.intoTarget) {
      t.fill += n;
      this.received += n;
    } else {
      // a read into a spare buffer (asked for while nobody waited): copy it on, keep the rest
      const chunk = Buffer.from(b.buffer, b.byteOffset, n);
      const used = t ? chunk.copy(t.buf, t.fill, 0, Math.min(n, this.length - this.received)) : 0;
      if (t) (t.fill += used), (this.received += used);
      if (used < n) this.keep(chunk.subarray(used));
    }
    if (t && (t.fill === t.buf.length || this.received >= this.length)) return this.settle(), false;
    return t !== undefined;
  }

  private keep(b: Buffer): void {
    const room = this.length - this.received - this.pending.reduce((s, p) => s + p.length, 0);
    if (room > 0) this.pending.push(Buffer.from(b.subarray(0, room)));
  }

  private headRead(n: number): boolean {
    this.headFill += n;
    const end = this.headBuf.subarray(0, this.headFill).indexOf('\r\n\r\n');
    if (end === -1) {
      if (this.headFill < HEAD_CAP) return true;
      this.fail(new Error('the response header block is over 64 KiB'));
      return false;
    }
    const head = this.headBuf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) return this.fail(new Error(`not an HTTP/1.1 answer: ${JSON.stringify((head[0] ?? '').slice(0, 40))}`)), false;
    this.inHead = false;
    this.status = Number(m[1]);
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const cl = this.headers['content-length'];
    this.length = cl !== undefined && /^\d+$/.test(cl) && this.headers['transfer-encoding'] === undefined ? Number(cl) : -1;
    const body = this.headBuf.subarray(end + 4, this.headFill);
    if (this.length >= 0 && body.length > 0) this.keep(body);
    this.headBuf = Buffer.alloc(0);
    this.headDone?.resolve();
    this.headDone = undefined;
    return false; // paused until fill() asks for the body
  }

  private fail(e: Error): void {
    this.socket.destroy(e);
  }

  private stop(e?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (this.received + this.pendingBytes() < this.length || this.length < 0) this.failure = e ?? Object.assign(new Error('the connection closed mid-body'), { code: 'ECONNRESET' });
    if (this.inHead) {
      this.inHead = false;
      this.headError = this.failure ?? new Error('the connection closed before the answer');
      this.headDone?.reject(this.headError);
      this.headDone = undefined;
    }
    this.settle();
  }

  private pendingBytes(): number {
    return this.pending.reduce((s, p) => s + p.length, 0);
  }

  private settle(): void {
    const t = this.target;
    if (!t) return;
    this.target = undefined;
    t.resolve(t.fill);
  }

  /** Body bytes not yet handed out. */
  get remaining(): number {
    return this.length - this.received;
  }

  /**
   * Read up to `buf.length` body bytes into `buf`; resolves with how many arrived (fewer only
   * at the end of the body or when the connection broke: see `failure`).
   */
  fill(buf: Buffer): Promise<number> {
    let fill = 0;
    while (this.pending.length > 0 && fill < buf.length) {
      const p = this.pending[0]!;
      const n = p.copy(buf, fill);
      fill += n;
      this.received += n;
      if (n === p.length) this.pending.shift();
      else this.pending[0] = p.subarray(n);
    }
    if (fill === buf.length || this.received >= this.length || this.ended) return Promise.resolve(fill);
    return new Promise((resolve) => {
      this.target = { buf, fill, resolve };
      this.socket.resume();
    });
  }

  /** Close the socket (after the body, or to give up on it). */
  close(): void {
    this.ended = true;
    this.socket.destroy();
    this.settle(); // a fill still waiting gets what it has: nobody waits for ever
  }
}

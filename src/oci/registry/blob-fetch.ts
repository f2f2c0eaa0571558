/**
 * A registry blob as a ChunkSource (range-copy.ts): the export's fast path, whose bytes land
 * in the copy's own 4 MiB buffers. Each connection is first tried as a raw GET (raw-get.ts,
 * redirects to blob storage followed, the Authorization kept with the registry); an answer
 * that is not a plain 200/206 with a Content-Length goes to the client's own request loop
 * (auth challenges, 429, typed errors), whose body is then copied. A dropped connection is
 * resumed with a Range request from the byte reached (bounded, as blob-stream.ts). The bytes
 * are not trusted here: the copy checks size and digest before the blob gets its name.
 */
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, isFerryError } from '../../errors.js';
import type { ChunkSource } from '../range-copy.js';
import type { Descriptor } from '../types.js';
import { BLOB_RETRIES, retryable } from './blob-stream.js';
import type { RegistryClient } from './client.js';
import { RawResponse } from './raw-get.js';

const MAX_REDIRECTS = 5;

/** Counts the body bytes a command receives from registries (`bytesFetched` of an export). */
export interface FetchCounter {
  bytes: number;
}

type Body = { kind: 'raw'; r: RawResponse } | { kind: 'http'; res: IncomingMessage; it: AsyncIterator<Buffer>; rest: Buffer | undefined; skip: number };

function sizeLie(what: string, expected: number, actual: number): FerryError {
  return new FerryError('SIZE_MISMATCH', `${what}: the registry announces ${actual} bytes where ${expected} remain: the registry lies about its size`, { details: { expected, actual } });
}

/** Open a raw GET from `offset`, following redirects; undefined when the answer needs the client's request loop. */
async function rawBody(client: RegistryClient, desc: Descriptor, offset: number, what: string): Promise<RawResponse | undefined> {
  let target = client.url('blobs', desc.digest);
  for (let hops = 0; hops <= MAX_REDIRECTS; hops++) {
    const how = client.rawRequest(target);
    if (!how) return undefined;
    const r = await RawResponse.get(target, { ...how.headers, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) }, how.options);
    const location = r.headers.location;
    if ([301, 302, 303, 307, 308].includes(r.status) && location) {
      r.close();
      target = new URL(location, target);
      continue;
    }
    const start = r.status === 206 ? Number(/^bytes (\d+)-/.exec(r.headers['content-range'] ?? '')?.[1] ?? -1) : 0;
    if ((r.status === 200 && offset === 0) || (r.status === 206 && start === offset)) {
      if (r.length < 0) return r.close(), undefined;
      if (r.length > desc.size - offset) throw (r.close(), sizeLie(what, desc.size - offset, r.length));
      return r;
    }
    r.close();
    return undefined;
  }
  return undefined;
}

/** The bytes of one registry blob, read into the copy's buffers. */
export class RegistryBlobSource implements ChunkSource {
  private got = 0;
  private failures = 0;
  private body: Body | undefined;

  constructor(
    private readonly client: RegistryClient,
    private readonly desc: Descriptor,
    private readonly what: string,
    private readonly counter?: FetchCounter,
    private readonly retries = BLOB_RETRIES,
    private readonly onResume?: (offset: number) => void,
  ) {}

  private async open(): Promise<Body> {
    // a raw connection that fails outright (refused, TLS) is tried again by the client, which types the error
    const raw = await rawBody(this.client, this.desc, this.got, this.what).catch((e: unknown) => {
      if (isFerryError(e)) throw e;
      return undefined;
    });
    if (raw) return { kind: 'raw', r: raw };
    const { res, start } = await this.client.blob(this.desc.digest, this.got);
    const skip = this.got - start;
    if (skip < 0) throw new FerryError('REGISTRY_ERROR', `${this.what}: the registry answered a range request from byte ${this.got} with bytes from ${start}`);
    const declared = Number(res.headers['content-length'] ?? -1);
    if (declared - skip > this.desc.size - this.got) throw (res.destroy(), sizeLie(this.what, this.desc.size - this.got, declared - skip));
    return { kind: 'http', res, it: (res as AsyncIterable<Buffer>)[Symbol.asyncIterator](), rest: undefined, skip };
  }

  /** Bytes copied from the open body into buf[at, len); 0 when it ended. */
  private async pull(b: Body, buf: Buffer, at: number, len: number): Promise<number> {
    if (b.kind === 'raw') {
      const n = await b.r.fill(buf.subarray(at, len));
      if (n === 0 && b.r.failure) throw b.r.failure;
      return n;
    }
    while (!b.rest || b.rest.length === 0) {
      const next = await b.it.next();
      if (next.done) return 0;
      let c = next.value;
      if (b.skip > 0) {
        const s = Math.min(b.skip, c.length);
        b.skip -= s;
        c = c.subarray(s);
      }
      b.rest = c;
    }
    const n = b.rest.copy(buf, at, 0, len - at);
    b.rest = b.rest.subarray(n);
    return n;
  }

  private drop(): void {
    const b = this.body;
    this.body = undefined;
    if (b?.kind === 'raw') b.r.close();
    else b?.res.destroy();
  }

  /** A broken connection: resume it (bounded), or give up with REGISTRY_INTERRUPTED. */
  private async broke(e: unknown): Promise<void> {
    this.drop();
    if (isFerryError(e) && e.details.status === 416) {
      throw new FerryError('SIZE_MISMATCH', `${this.what}: the registry has only ${this.got} bytes of it, not ${this.desc.size}: the registry lies about its size`, { cause: e, details: { expected: this.desc.size, actual: this.got } });
    }
    if (!retryable(e)) throw e;
    if (++this.failures > this.retries) {
      throw new FerryError('REGISTRY_INTERRUPTED', `${this.what}: the connection to ${this.client.ref.host} broke ${this.failures} times (at byte ${this.got} of ${this.desc.size}): check the network and run the export again; blobs already on the stick are kept`, {
        cause: e,
        details: { digest: this.desc.digest, bytes: this.got, size: this.desc.size },
      });
    }
    this.onResume?.(this.got);
    await sleep(100 * 2 ** this.failures);
  }

  async read(buf: Buffer, len: number): Promise<void> {
    for (let at = 0; at < len; ) {
      try {
        this.body ??= await this.open();
        const n = await this.pull(this.body, buf, at, len);
        if (n === 0) {
          // a 206 may cover less than asked: ask for the rest; any other short body is a drop
          const short = this.body.kind === 'raw' && this.body.r.status === 206 && this.body.r.remaining === 0;
          if (!short) throw Object.assign(new Error(`the response ended at byte ${this.got}`), { code: 'ECONNRESET' });
          this.drop();
          continue;
        }
        at += n;
        this.got += n;
        if (this.counter) this.counter.bytes += n;
      } catch (e) {
        await this.broke(e);
      }
    }
    if (this.got === this.desc.size) await this.finish();
  }

  /** After the last byte: a body that goes on is a registry that lies about the size. */
  private async finish(): Promise<void> {
    const b = this.body;
    if (b?.kind === 'http') {
      const more = (b.rest?.length ?? 0) > 0 || !(await b.it.next()).done;
      if (more) {
        this.drop();
        throw new FerryError('SIZE_MISMATCH', `${this.what}: the registry sends more than the ${this.desc.size} bytes its descriptor says: the registry lies about its size`, { details: { expected: this.desc.size } });
      }
    }
    this.drop();
  }

  async close(): Promise<void> {
    this.drop();
  }
}

/**
 * A registry blob as one Readable: when the connection drops mid-blob, the rest is asked
 * for with an HTTP Range request from the byte reached (bounded retries), so a flaky link
 * does not restart a multi-GiB layer. The bytes are not trusted here: the blob store's
 * DigestVerifier checks digest and size as they stream, before the blob gets its name.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, isFerryError } from '../../errors.js';
import type { Descriptor } from '../types.js';
import type { RegistryClient } from './client.js';
import type { FetchCounter } from './blob-fetch.js';
import { isTransient } from './http.js';

/** Resumes after a dropped connection, per blob. */
export const BLOB_RETRIES = 3;

/** True for a failure that a Range resume may cure (a dropped or reset connection). */
export function retryable(e: unknown): boolean {
  if (isFerryError(e)) return e.code === 'REGISTRY_UNREACHABLE' && isTransient({ code: e.details.errno });
  return isTransient(e) || (e as Error).message === 'aborted';
}

async function* blobChunks(client: RegistryClient, desc: Descriptor, what: string, retries: number, onResume?: (offset: number) => void, counter?: FetchCounter): AsyncGenerator<Buffer> {
  let got = 0;
  let failures = 0;
  let last: unknown;
  do {
    if (failures > 0) {
      if (failures > retries) {
        throw new FerryError('REGISTRY_INTERRUPTED', `${what}: the connection to ${client.ref.host} broke ${failures} times (at byte ${got} of ${desc.size}): check the network and run the export again; blobs already on the stick are kept`, {
          cause: last,
          details: { digest: desc.digest, bytes: got, size: desc.size },
        });
      }
      onResume?.(got);
      await sleep(100 * 2 ** failures);
    }
    try {
      const { res, start } = await client.blob(desc.digest, got);
      // a registry that ignores Range sends the blob from its start: skip what we have
      let skip = got - start;
      if (skip < 0) throw new FerryError('REGISTRY_ERROR', `${what}: the registry answered a range request from byte ${got} with bytes from ${start}`);
      for await (const c of res as AsyncIterable<Buffer>) {
        let chunk = c;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        got += chunk.length;
        if (counter) counter.bytes += chunk.length;
        yield chunk;
        if (got > desc.size) {
          // more than promised: the verifier downstream reports SIZE_MISMATCH; stop reading
          res.destroy();
          return;
        }
      }
      if (got >= desc.size) return;
      // the body ended cleanly but short: count it as a drop and ask for the rest
      last = new Error(`the response ended at byte ${got}`);
      failures++;
    } catch (e) {
      if (isFerryError(e) && e.details.status === 416) {
        throw new FerryError('SIZE_MISMATCH', `${what}: the registry has only ${got} bytes of it, not ${desc.size}: the registry lies about its size`, { cause: e, details: { expected: desc.size, actual: got } });
      }
      if (!retryable(e)) throw e;
      last = e;
      failures++;
    }
  } while (got < desc.size);
}

/** Stream a blob from the registry, resuming with Range requests after a drop (at most `retries` times). */
export function openRegistryBlob(client: RegistryClient, desc: Descriptor, what: string, retries = BLOB_RETRIES, onResume?: (offset: number) => void, counter?: FetchCounter): Readable {
  return Readable.from(blobChunks(client, desc, what, retries, onResume, counter), { objectMode: false, highWaterMark: 1024 * 1024 });
}

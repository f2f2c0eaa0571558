import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { FerryError, isFerryError } from '../../src/errors.js';
import { CheckTee } from '../../src/oci/layer-copy.js';

const CHUNK = 64 * 1024;
const TOTAL = 64 * 1024 * 1024;

/** A source of TOTAL bytes in 64 KiB chunks that counts what it handed out. */
function countingSource(counter: { produced: number }): Readable {
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (counter.produced >= TOTAL) {
        this.push(null);
        return;
      }
      counter.produced += CHUNK;
      this.push(Buffer.alloc(CHUNK, 7));
    },
  });
}

/** A branch stage that is much slower than the copy: each chunk waits a few turns of the event loop. */
function slowStage(counter: { consumed: number }, failAt = Infinity): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      setTimeout(() => {
        counter.consumed += chunk.length;
        if (counter.consumed >= failAt) cb(new FerryError('CORRUPT_ARCHIVE', 'branch says no'));
        else cb(null, chunk);
      }, 1);
    },
  });
}

describe('CheckTee (the same-read check branch of a copied layer)', () => {
  it('holds the copy back to the speed of a slow branch: the bytes in flight stay bounded while 64 MiB pass', async () => {
    const c = { produced: 0, consumed: 0, copied: 0, maxAhead: 0 };
    const fastCopy = new Writable({
      write(chunk: Buffer, _e, cb) {
        c.copied += chunk.length;
        c.maxAhead = Math.max(c.maxAhead, c.produced - c.consumed);
        cb();
      },
    });
    await pipeline(countingSource(c), new CheckTee([slowStage(c)]), fastCopy);
    expect(c.copied).toBe(TOTAL);
    expect(c.consumed).toBe(TOTAL); // the branch saw every byte before the copy ended
    // without backpressure the fast copy would run ~TOTAL ahead of the branch
    expect(c.maxAhead).toBeLessThan(8 * 1024 * 1024);
  });

  it('fails the copy with the branch error as soon as the branch fails, and stops reading the source', async () => {
    const c = { produced: 0, consumed: 0 };
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const tee = new CheckTee([slowStage(c, 2 * 1024 * 1024)]);
    const err = await pipeline(countingSource(c), tee, sink).catch((e: unknown) => e);
    expect(isFerryError(err, 'CORRUPT_ARCHIVE')).toBe(true);
    expect(tee.branchError).toBe(err);
    expect(c.produced).toBeLessThan(TOTAL / 4);
  });

  it('does not end before the branch has finished and reports a failure found only at the branch end', async () => {
    const lateFail = new Transform({
      transform: (chunk, _e, cb) => cb(null, chunk),
      flush: (cb) => setTimeout(() => cb(new FerryError('DIGEST_MISMATCH', 'found at the end')), 5),
    });
    const err = await pipeline(Readable.from([Buffer.alloc(1000)]), new CheckTee([lateFail]), new Writable({ write: (_c, _e, cb) => cb() })).catch((e: unknown) => e);
    expect(isFerryError(err, 'DIGEST_MISMATCH')).toBe(true);
  });

  it('does not report a branch error when the copy itself was destroyed first', async () => {
    const tee = new CheckTee([new Transform({ transform: (chunk, _e, cb) => cb(null, chunk) })]);
    tee.on('error', () => undefined);
    tee.destroy(new Error('copy failed'));
    await new Promise((r) => setTimeout(r, 10));
    expect(tee.branchError).toBeUndefined();
  });
});

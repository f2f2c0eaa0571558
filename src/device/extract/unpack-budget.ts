/**
 * Bounded work while a slot is written: decompressed bytes are counted as they leave the
 * decompressor, refused the moment they pass the signed `image.unpackedBytes`
 * (LIMIT_EXCEEDED: a decompression bomb, or a signer's lie), and the slot's file system
 * is polled so the write stops before it eats the last `reserveBytes` (NO_SPACE), rather
 * than when GNU tar meets ENOSPC with the state directory possibly on the same disk.
 */
import * as fsp from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../../errors.js';

/** How often (in decompressed bytes) the free space is looked at: statfs is cheap, but not free. */
const POLL_EVERY = 16 * 1024 * 1024;

/** The budget of one slot write, shared by all of the image's layers. */
export class UnpackBudget {
  private used = 0;
  private sincePoll = 0;

  constructor(
    private readonly root: string,
    /** Signed total of the uncompressed layers, when known. */
    private readonly limit: number | undefined,
    private readonly reserveBytes: number,
  ) {}

  /** Decompressed bytes so far, over all layers. */
  get bytes(): number {
    return this.used;
  }

  /** A pass-through stage for one layer's decompressed stream. */
  stage(what: string): Transform {
    return new BudgetStage(this, what);
  }

  /** Account `n` more bytes; resolves once the free space was checked when it was due. */
  async take(n: number, what: string): Promise<void> {
    this.used += n;
    if (this.limit !== undefined && this.used > this.limit) {
      throw new FerryError('LIMIT_EXCEEDED', `${what}: the layers decompress to more than the ${this.limit} bytes the signed update states: refused as a decompression bomb; do not use this stick; report it to headquarters`, {
        details: { limit: this.limit, reached: this.used },
      });
    }
    this.sincePoll += n;
    if (this.sincePoll >= POLL_EVERY) {
      this.sincePoll = 0;
      await this.checkSpace(what);
    }
  }

  /** NO_SPACE when the slot's file system has less than the reserve left. */
  async checkSpace(what: string): Promise<void> {
    if (this.reserveBytes <= 0) return;
    const st = await fsp.statfs(this.root);
    const free = st.bavail * st.bsize;
    if (free < this.reserveBytes) {
      throw new FerryError('NO_SPACE', `${what}: the slot's file system is down to ${free} free bytes, below the ${this.reserveBytes}-byte reserve, after ${this.used} bytes of the image: the slot is too small for this image; the write was stopped and its files removed`, {
        details: { free, reserve: this.reserveBytes, written: this.used },
      });
    }
  }
}

class BudgetStage extends Transform {
  constructor(
    private readonly budget: UnpackBudget,
    private readonly what: string,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.budget.take(chunk.length, this.what).then(
      () => cb(null, chunk),
      (e: Error) => cb(e),
    );
  }
}

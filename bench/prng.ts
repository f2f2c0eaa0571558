/**
 * Deterministic randomness for the bench inputs: the same seed gives the same
 * bytes on every machine, so two runs (or two people) measure the same image.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** A small seeded PRNG (mulberry32): fast, good enough to pick sizes and names. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/**
 * An endless deterministic byte source for incompressible data: AES-128-CTR over
 * zeros keyed by (seed, label). Runs at GB/s, so generating 1 GiB is not the bottleneck.
 */
export class RandomBytes {
  private readonly cipher;
  private readonly zeros = Buffer.alloc(1024 * 1024);

  constructor(seed: number, label: string) {
    const key = createHash('sha256').update(`${seed}:${label}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  }

  /** The next `n` bytes (n ≤ 1 MiB per call). */
  take(n: number): Buffer {
    return this.cipher.update(this.zeros.subarray(0, n));
  }
}

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { decodeDer, DerReader } from '../../src/trust/der.js';
import { integer, oid, seq, time } from '../../src/trust/der-write.js';
import { verifyUpdate } from '../../src/trust/verify.js';
import { makePki, manifestBytes, manifestObject, NOW, signBytes, signerOf } from './helpers.js';

/** A tiny deterministic PRNG so a failing mutation can be replayed from the seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('the strict DER reader', () => {
  const r = new DerReader();

  it('round-trips what the encoder writes: integers, OIDs, times', () => {
    expect(r.bigInt(decodeDer(integer(0x80n)), 'n')).toBe(0x80n);
    expect(r.smallInt(decodeDer(integer(0)), 'n')).toBe(0);
    expect(r.oid(decodeDer(oid('1.2.840.113549.1.9.16.2.47')), 'o')).toBe('1.2.840.113549.1.9.16.2.47');
    const t = new Date('2049-12-31T23:59:59Z');
    expect(r.time(decodeDer(time(t)), 't')).toEqual(t);
    expect(r.time(decodeDer(time(new Date('2050-01-01T00:00:00Z'))), 't').toISOString()).toBe('2050-01-01T00:00:00.000Z');
  });

  it.each([
    ['an indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['a non-minimal long length', [0x04, 0x81, 0x01, 0x00]],
    ['a length with a leading zero byte', [0x04, 0x82, 0x00, 0x81, ...Array(0x81).fill(0)]],
    ['a length past the end', [0x30, 0x05, 0x02, 0x01]],
    ['trailing bytes', [0x05, 0x00, 0x00]],
    ['a primitive SEQUENCE', [0x10, 0x00]],
    ['a constructed OCTET STRING (BER)', [0x24, 0x03, 0x04, 0x01, 0x00]],
    ['a high tag number', [0x1f, 0x81, 0x00, 0x00]],
    ['an empty input', []],
    ['a five-byte length', [0x04, 0x85, 1, 0, 0, 0, 0]],
  ])('refuses %s', (_n, bytes) => {
    expect(() => decodeDer(Buffer.from(bytes))).toThrow(FerryError);
  });

  it('refuses non-minimal INTEGERs and OID arcs, and bad BOOLEANs and times', () => {
    expect(() => r.integerBytes(decodeDer(Buffer.from([0x02, 0x02, 0x00, 0x01])), 'n')).toThrow(/non-minimal INTEGER/);
    expect(() => r.oid(decodeDer(Buffer.from([0x06, 0x02, 0x80, 0x01])), 'o')).toThrow(/non-minimal OID/);
    expect(() => r.boolean(decodeDer(Buffer.from([0x01, 0x01, 0x01])), 'b')).toThrow(/BOOLEAN/);
    expect(() => r.time(decodeDer(Buffer.from([0x17, 0x0d, ...Buffer.from('261332000000Z')])), 't')).toThrow(/invalid date/);
    expect(() => r.time(decodeDer(Buffer.from([0x17, 0x0b, ...Buffer.from('2611220000Z')])), 't')).toThrow(/UTCTime/);
  });

  it('caps nesting depth instead of recursing without bound', () => {
    let b: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 200; i++) b = seq(b);
    expect(() => decodeDer(b)).toThrow(/nesting deeper/);
  });

  it('survives random garbage with only FerryErrors', () => {
    for (let i = 0; i < 3000; i++) {
      const b = randomBytes(1 + (i % 64));
      if (i % 3 === 0) b[0] = 0x30;
      try {
        decodeDer(b);
      } catch (e) {
        expect(e).toBeInstanceOf(FerryError);
      }
    }
  });
});

describe('verifyUpdate under random mutation of a valid signature (fuzz)', () => {
  it('never throws anything but a FerryError and never accepts a changed signature', async () => {
    const pki = makePki();
    const m = manifestBytes(manifestObject());
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    const rnd = prng(20261122);
    let accepted = 0;
    for (let i = 0; i < 1500; i++) {
      const mut = Buffer.from(sig);
      const kind = i % 4;
      let bytes: Buffer = mut;
      if (kind === 0) mut[Math.floor(rnd() * mut.length)] = Math.floor(rnd() * 256);
      else if (kind === 1) bytes = mut.subarray(0, Math.floor(rnd() * mut.length));
      else if (kind === 2) {
        const at = Math.floor(rnd() * mut.length);
        bytes = Buffer.concat([mut.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), mut.subarray(at)]);
      } else for (let k = 0; k < 8; k++) mut[Math.floor(rnd() * mut.length)] ^= 1 << Math.floor(rnd() * 8);
      try {
        verifyUpdate(m, bytes, { roots: [pki.root.cert] }, {}, NOW);
        if (!bytes.equals(sig)) accepted++;
      } catch (e) {
        if (!(e instanceof FerryError)) throw new Error(`mutation ${i} (kind ${kind}) threw a non-FerryError: ${String(e)}`);
      }
    }
    // Strict DER leaves one encoding per value and every unsigned field is checked: no changed byte passes.
    expect(accepted).toBe(0);
  });
});

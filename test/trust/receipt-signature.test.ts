import { createHash, ECDH, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Receipt } from '../../src/device/receipts.js';
import { SignatureChecker } from '../../src/media/receipts-store/sig-worker.js';
import { canonicalJson, checkReceiptSignature, type KeyCache, publicKeyId, receiptSignatureOutcome, receiptSigningBytes, type SignatureCheck } from '../../src/trust/receipt-signature.js';
import { deviceKeyPair, receiptOf, signed } from '../helpers/receipts.js';

const key = deviceKeyPair();
const good = signed(receiptOf('dev-1', new Date('2026-11-20T10:00:00.000Z')), key) as unknown as Record<string, unknown>;
const sig = good.signature as Record<string, string>;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;

/** The same receipt with other fields or another signature field. */
const variant = (over: Record<string, unknown>, sigOver: Record<string, unknown> = {}) => ({ ...good, ...over, signature: { ...sig, ...sigOver } });

const cases: Array<[string, Record<string, unknown>]> = [
  ['a receipt as signed', good],
  ['a receipt changed after signing', variant({ result: 'failure' })],
  ['a signature of the same key over another receipt', variant({}, { value: (signed(receiptOf('dev-2', new Date('2026-11-20T10:00:00.000Z')), key).signature as unknown as Record<string, string>).value })],
  ['a signature value that is not DER', variant({}, { value: Buffer.from('not a signature').toString('base64') })],
  ['a key id that is not the key', variant({}, { keyId: publicKeyId(deviceKeyPair().publicKey) })],
  ['a key that is not P-256', variant({}, { publicKey: rsa.export({ type: 'spki', format: 'der' }).toString('base64'), keyId: publicKeyId(rsa) })],
  ['a key that cannot be read', variant({}, { publicKey: 'AAAA' })],
  ['a malformed signature field', variant({}, { alg: 'ed25519' })],
  ['no signature', { ...good, signature: undefined }],
];

const plain = (c: SignatureCheck) => (c.ok ? { ok: true, keyId: c.keyId } : c);

describe('checkReceiptSignature', () => {
  it.each(cases)('decides %s the same through the key cache as without it', (_name, receipt) => {
    const cache: KeyCache = new Map();
    const uncached = plain(checkReceiptSignature(receipt));
    expect(plain(checkReceiptSignature(receipt, cache))).toEqual(uncached);
    // a second time, the key now read from the cache: the same answer
    expect(plain(checkReceiptSignature(receipt, cache))).toEqual(uncached);
  });

  it('accepts only the receipt as signed', () => {
    const outcomes = cases.map(([, r]) => checkReceiptSignature(r));
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, false, false, false, false, false, false]);
    expect(outcomes[0]).toMatchObject({ ok: true, keyId: publicKeyId(key.publicKey) });
    expect(outcomes.slice(1, 4).map((o) => !o.ok && o.why)).toEqual(Array(3).fill(expect.stringMatching(/does not verify/)));
  });
});

describe('the key a receipt carries', () => {
  it('is read as P-256 in the form devices write and in compressed form; another curve is refused', () => {
    // the same key as a compressed point: the key details decide, not the form devices write
    const point = key.publicKey.export({ type: 'spki', format: 'der' }).subarray(26);
    const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer]);
    const keyId = `sha256:${createHash('sha256').update(compressed).digest('hex')}`;
    const asCompressed = variant({}, { publicKey: compressed.toString('base64'), keyId });
    expect(plain(checkReceiptSignature(asCompressed, new Map()))).toEqual({ ok: true, keyId });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const other = { ...good, signature: undefined };
    const onP384 = { ...other, signature: { alg: sig.alg, keyId: publicKeyId(p384.publicKey), publicKey: p384.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), value: sign('sha256', receiptSigningBytes(other), p384.privateKey).toString('base64') } };
    expect(checkReceiptSignature(onP384, new Map())).toEqual({ ok: false, why: 'public key is not ECDSA P-256' });
  });
});

describe('canonicalJson (RFC 8785)', () => {
  it('sorts integer-like keys as strings by UTF-16 code units, where a JS object would not', () => {
    const o = JSON.parse('{"a":1,"10":2,"2":3,"B":[{"z":null,"y":true}],"\\u20ac":"x","\\ud83d\\ude00":4}');
    expect(canonicalJson(o)).toBe('{"10":2,"2":3,"B":[{"y":true,"z":null}],"a":1,"€":"x","😀":4}');
  });

  it('writes what JSON.stringify writes for a receipt whose keys are plain words', () => {
    const r = receiptOf('dev-1', new Date('2026-11-20T10:00:00.000Z')) as unknown as Record<string, unknown>;
    const sortedDeep = (v: unknown): unknown =>
      v === null || typeof v !== 'object' ? v : Array.isArray(v) ? v.map(sortedDeep) : Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortedDeep((v as Record<string, unknown>)[k])]));
    expect(canonicalJson(r)).toBe(JSON.stringify(sortedDeep(JSON.parse(JSON.stringify(r)))));
  });

  it('leaves out undefined members and turns a Date into its ISO string, as JSON.stringify does', () => {
    expect(canonicalJson({ b: undefined, a: [undefined], d: new Date(0) })).toBe('{"a":[null],"d":"1970-01-01T00:00:00.000Z"}');
  });
});

describe('collect\'s signature worker', () => {
  it('gives for each receipt file the outcome the main thread gives, from the same function', async () => {
    const files = cases.map(([, r]) => [Buffer.from(JSON.stringify(r)), r] as const);
    // a BOM the strict parse drops, integer-like keys the canonical form sorts as strings, and text
    const odd = { ...good, signature: undefined, '10': 'x', '2': 'y', message: 'größe 😀' };
    const oddSigned = signed(odd as unknown as Receipt, key) as unknown as Record<string, unknown>;
    files.push([Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(oddSigned, null, 2))]), oddSigned]);
    files.push([Buffer.from(JSON.stringify({ ...oddSigned, '2': 'z' })), { ...oddSigned, '2': 'z' }]);
    const want = files.map(([, r]) => receiptSignatureOutcome(r, new Map()));
    expect(want.slice(-2)).toEqual([`ok:${publicKeyId(key.publicKey)}`, expect.stringMatching(/^bad:signature does not verify/)]);
    for (const inWorker of [true, false]) {
      const checker = new SignatureChecker(inWorker);
      try {
        const got = files.map(([bytes, r]) => checker.check(bytes, r));
        checker.flush();
        expect(await Promise.all(got)).toEqual(want);
        expect(checker.checkedInWorker).toBe(inWorker ? files.length : 0);
      } finally {
        await checker.close();
      }
    }
  });
});

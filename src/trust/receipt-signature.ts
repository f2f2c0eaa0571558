/**
 * Device signatures on receipts (issue 15). A receipt carries `signature`: an ECDSA P-256 /
 * SHA-256 signature (DER, as `openssl dgst -sha256 -sign` makes) over the receipt's canonical
 * bytes: the receipt without its `signature` field, as RFC 8785 JSON (keys sorted by UTF-16
 * code units, no whitespace; receipts hold only strings, integers, booleans, arrays and
 * objects, for which JSON.stringify's number and string forms are RFC 8785's). The public key
 * travels with it so a report can tell "forged" from "not enrolled"; trust comes only from the
 * device certificate HQ issued for that key (trust/device-cert.ts). Pure.
 */
import { createHash, createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';

/** The signature algorithm name written into receipts. */
export const RECEIPT_SIG_ALG = 'ecdsa-p256-sha256';

/** The `signature` field of a receipt. */
export interface ReceiptSignature {
  alg: typeof RECEIPT_SIG_ALG;
  /** "sha256:" + SHA-256 of the public key's SubjectPublicKeyInfo DER (the device certificate's key id). */
  keyId: string;
  /** The SubjectPublicKeyInfo DER, base64. */
  publicKey: string;
  /** The DER ECDSA signature, base64. */
  value: string;
}

/**
 * RFC 8785 canonical JSON of a JSON value (see the file comment for the value domain). Written
 * out by hand rather than through JSON.stringify on re-made objects: a JS object lists
 * integer-like keys ("2", "10") first and in numeric order whatever order they were added in,
 * while RFC 8785 sorts every key by its UTF-16 code units ("10" before "2").
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  const json = (v as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return canonicalJson(json.call(v)); // a Date, as JSON.stringify does
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined || typeof x === 'function' ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x === undefined || typeof x === 'function') continue; // as JSON.stringify: absent
    parts.push(`${JSON.stringify(k)}:${canonicalJson(x)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The bytes a receipt's signature covers: the receipt without `signature`, canonical. */
export function receiptSigningBytes(receipt: object): Buffer {
  const { signature: _drop, ...rest } = receipt as Record<string, unknown>;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** "sha256:<hex>" of a public key's SubjectPublicKeyInfo DER. */
export function publicKeyId(pub: KeyObject): string {
  return `sha256:${createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** Sign `receipt` with the device key; returns the signature field (the receipt is not changed). */
export function signReceiptBytes(receipt: object, privateKey: KeyObject, publicKey: KeyObject): ReceiptSignature {
  const value = cryptoSign('sha256', receiptSigningBytes(receipt), privateKey);
  return { alg: RECEIPT_SIG_ALG, keyId: publicKeyId(publicKey), publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), value: value.toString('base64') };
}

/** How a receipt's signature checked out, before enrolment is looked at. */
export type SignatureCheck = { ok: true; keyId: string; publicKey: KeyObject } | { ok: false; why: string };

/** Public keys already read, by their base64 SPKI (a fleet's receipts come from few keys, many times). */
export type KeyCache = Map<string, { pub: KeyObject; keyId: string } | string>;

/**
 * The SubjectPublicKeyInfo of an uncompressed P-256 key up to its point: SEQUENCE { SEQUENCE {
 * id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits, 0x04 uncompressed) }, 91 bytes in all.
 */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const P256_SPKI_LENGTH = 91;

/** The key in a signature field: read once per distinct key when a cache is given; a string is why it is unusable. */
function keyOf(b64: string, cache: KeyCache | undefined): { pub: KeyObject; keyId: string } | string {
  const hit = cache?.get(b64);
  if (hit !== undefined) return hit;
  let out: { pub: KeyObject; keyId: string } | string;
  try {
    const der = Buffer.from(b64, 'base64');
    const pub = createPublicKey({ key: der, format: 'der', type: 'spki' });
    // the form devices write names id-ecPublicKey and prime256v1 itself; reading the key's details
    // back is for any other encoding (asking them of 2,000 keys cost as much as reading them)
    const p256 = (der.length === P256_SPKI_LENGTH && der.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) || (pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails?.namedCurve === 'prime256v1');
    out = p256 ? { pub, keyId: `sha256:${createHash('sha256').update(der).digest('hex')}` } : 'public key is not ECDSA P-256';
  } catch {
    out = 'public key cannot be read';
  }
  if (cache && cache.size < 100_000) cache.set(b64, out);
  return out;
}

/** A receipt's signature ready to verify, or why it cannot be. */
type Prepared = { keyId: string; pub: KeyObject; data: Buffer; sig: Buffer } | { ok: false; why: string };

/** Everything but the ECDSA verification itself: the field's shape, the key, its id, the signed bytes. */
function prepare(receipt: Record<string, unknown>, cache: KeyCache | undefined): Prepared {
  const s = receipt.signature as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null) return { ok: false, why: 'no signature' };
  if (s.alg !== RECEIPT_SIG_ALG || typeof s.publicKey !== 'string' || typeof s.value !== 'string' || typeof s.keyId !== 'string') return { ok: false, why: 'signature field is malformed' };
  const key = keyOf(s.publicKey, cache);
  if (typeof key === 'string') return { ok: false, why: key };
  if (key.keyId !== s.keyId) return { ok: false, why: 'keyId does not match the public key' };
  return { keyId: key.keyId, pub: key.pub, data: receiptSigningBytes(receipt), sig: Buffer.from(s.value, 'base64') };
}

const FORGED = { ok: false, why: 'signature does not verify (the receipt was changed after signing, or forged)' } as const;

/**
 * Check the signature with the key the receipt carries: a P-256 key whose id matches, and
 * a signature over the canonical bytes. Whether that key belongs to the device is the
 * enrolment's question, not this one.
 */
export function checkReceiptSignature(receipt: Record<string, unknown>, cache?: KeyCache): SignatureCheck {
  const p = prepare(receipt, cache);
  if ('ok' in p) return p;
  let ok = false;
  try {
    ok = cryptoVerify('sha256', p.data, p.pub, p.sig);
  } catch {
    ok = false;
  }
  return ok ? { ok: true, keyId: p.keyId, publicKey: p.pub } : FORGED;
}

/**
 * checkReceiptSignature with the same checks, the ECDSA verification running on libuv's
 * thread pool (node:crypto verify with a callback): collect verifies 10,000 receipts while
 * its main thread reads and stores the next ones.
 */
export function checkReceiptSignatureAsync(receipt: Record<string, unknown>, cache?: KeyCache): Promise<SignatureCheck> {
  const p = prepare(receipt, cache);
  if ('ok' in p) return Promise.resolve(p);
  return new Promise((resolve) => {
    try {
      cryptoVerify('sha256', p.data, p.pub, p.sig, (err, ok) => resolve(!err && ok ? { ok: true, keyId: p.keyId, publicKey: p.pub } : FORGED));
    } catch {
      resolve(FORGED);
    }
  });
}

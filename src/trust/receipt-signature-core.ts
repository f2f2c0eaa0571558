/**
 * The receipt signature check itself (receipt-signature.ts explains the format), written as one
 * self-contained function of node:crypto: it uses nothing from its module, only its argument and
 * JavaScript's globals (Buffer, JSON, Object). So `receiptSignatureCore.toString()` is the source
 * collect's signature worker runs (media/receipts-store/sig-worker.ts, inline source: it also runs
 * from the single executable), and the main thread runs the very same function: there is one
 * implementation of the check, not two. Keep it so: no imports used inside, no outer constants.
 */
import type { KeyObject } from 'node:crypto';

/** The part of node:crypto the check uses. */
export type CryptoForReceipts = Pick<typeof import('node:crypto'), 'createHash' | 'createPublicKey' | 'verify'>;

/** How a receipt's signature checked out, before enrolment is looked at. */
export type SignatureCheck = { ok: true; keyId: string; publicKey: KeyObject } | { ok: false; why: string };

/** Public keys already read, by their base64 SPKI (a fleet's receipts come from few keys, many times). */
export type KeyCache = Map<string, { pub: KeyObject; keyId: string } | string>;

/** A receipt's signature ready to verify, or why it cannot be. */
type PreparedSignature = { keyId: string; pub: KeyObject; data: Buffer; sig: Buffer } | { ok: false; why: string };

/** The check's functions (see the file comment: self-contained on purpose). */
export function receiptSignatureCore(crypto: CryptoForReceipts) {
  const RECEIPT_SIG_ALG = 'ecdsa-p256-sha256';
  // The SubjectPublicKeyInfo of an uncompressed P-256 key up to its point: SEQUENCE { SEQUENCE {
  // id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits, 0x04 uncompressed) }, 91 bytes in all.
  const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
  const P256_SPKI_LENGTH = 91;
  const FORGED = { ok: false, why: 'signature does not verify (the receipt was changed after signing, or forged)' } as const;

  /**
   * RFC 8785 canonical JSON of a JSON value. Written out by hand rather than through
   * JSON.stringify on re-made objects: a JS object lists integer-like keys ("2", "10") first and
   * in numeric order whatever order they were added in, while RFC 8785 sorts every key by its
   * UTF-16 code units ("10" before "2").
   */
  function canonicalJson(v: unknown): string {
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
  function receiptSigningBytes(receipt: object): Buffer {
    const { signature: _drop, ...rest } = receipt as Record<string, unknown>;
    return Buffer.from(canonicalJson(rest), 'utf8');
  }

  /** The key in a signature field: read once per distinct key when a cache is given; a string is why it is unusable. */
  function keyOf(b64: string, cache: KeyCache | undefined): { pub: KeyObject; keyId: string } | string {
    const hit = cache?.get(b64);
    if (hit !== undefined) return hit;
    let out: { pub: KeyObject; keyId: string } | string;
    try {
      const der = Buffer.from(b64, 'base64');
      const pub = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
      // the form devices write names id-ecPublicKey and prime256v1 itself; reading the key's details
      // back is for any other encoding (asking them of 2,000 keys cost as much as reading them)
      const p256 = (der.length === P256_SPKI_LENGTH && der.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) || (pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails?.namedCurve === 'prime256v1');
      out = p256 ? { pub, keyId: `sha256:${crypto.createHash('sha256').update(der).digest('hex')}` } : 'public key is not ECDSA P-256';
    } catch {
      out = 'public key cannot be read';
    }
    if (cache && cache.size < 100_000) cache.set(b64, out);
    return out;
  }

  /** Everything but the ECDSA verification itself: the field's shape, the key, its id, the signed bytes. */
  function prepare(receipt: Record<string, unknown>, cache: KeyCache | undefined): PreparedSignature {
    const s = receipt.signature as Record<string, unknown> | undefined;
    if (typeof s !== 'object' || s === null) return { ok: false, why: 'no signature' };
    if (s.alg !== RECEIPT_SIG_ALG || typeof s.publicKey !== 'string' || typeof s.value !== 'string' || typeof s.keyId !== 'string') return { ok: false, why: 'signature field is malformed' };
    const key = keyOf(s.publicKey, cache);
    if (typeof key === 'string') return { ok: false, why: key };
    if (key.keyId !== s.keyId) return { ok: false, why: 'keyId does not match the public key' };
    return { keyId: key.keyId, pub: key.pub, data: receiptSigningBytes(receipt), sig: Buffer.from(s.value, 'base64') };
  }

  /** The signature checked with the key the receipt carries (a P-256 key whose id matches, over the canonical bytes). */
  function check(receipt: Record<string, unknown>, cache?: KeyCache): SignatureCheck {
    const p = prepare(receipt, cache);
    if ('ok' in p) return p;
    let ok = false;
    try {
      ok = crypto.verify('sha256', p.data, p.pub, p.sig);
    } catch {
      ok = false;
    }
    return ok ? { ok: true, keyId: p.keyId, publicKey: p.pub } : FORGED;
  }

  /** The outcome collect stores: "ok:<key id>", "unsigned" (no signature field) or "bad:<why>". */
  function outcome(receipt: Record<string, unknown>, cache?: KeyCache): string {
    if (receipt.signature === undefined) return 'unsigned';
    const c = check(receipt, cache);
    return c.ok ? `ok:${c.keyId}` : `bad:${c.why}`;
  }

  return { canonicalJson, receiptSigningBytes, check, outcome };
}

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
import { type KeyCache, receiptSignatureCore, type SignatureCheck } from './receipt-signature-core.js';

export type { KeyCache, SignatureCheck } from './receipt-signature-core.js';

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

const core = receiptSignatureCore({ createHash, createPublicKey, verify: cryptoVerify });

/** RFC 8785 canonical JSON of a JSON value (see the file comment for the value domain; receipt-signature-core.ts). */
export const canonicalJson: (v: unknown) => string = core.canonicalJson;

/** The bytes a receipt's signature covers: the receipt without `signature`, canonical. */
export const receiptSigningBytes: (receipt: object) => Buffer = core.receiptSigningBytes;

/** "sha256:<hex>" of a public key's SubjectPublicKeyInfo DER. */
export function publicKeyId(pub: KeyObject): string {
  return `sha256:${createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** Sign `receipt` with the device key; returns the signature field (the receipt is not changed). */
export function signReceiptBytes(receipt: object, privateKey: KeyObject, publicKey: KeyObject): ReceiptSignature {
  const value = cryptoSign('sha256', receiptSigningBytes(receipt), privateKey);
  return { alg: RECEIPT_SIG_ALG, keyId: publicKeyId(publicKey), publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), value: value.toString('base64') };
}

/**
 * Check the signature with the key the receipt carries: a P-256 key whose id matches, and
 * a signature over the canonical bytes. Whether that key belongs to the device is the
 * enrolment's question, not this one.
 */
export function checkReceiptSignature(receipt: Record<string, unknown>, cache?: KeyCache): SignatureCheck {
  return core.check(receipt, cache);
}

/** The outcome collect stores for a receipt: "ok:<key id>", "unsigned" or "bad:<why>". */
export function receiptSignatureOutcome(receipt: Record<string, unknown>, cache?: KeyCache): string {
  return core.outcome(receipt, cache);
}

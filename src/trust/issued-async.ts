/**
 * issuedBy (chain.ts) with the signature check on libuv's thread pool, for loading many
 * certificates of one issuer (a report reads 2,000 device certificates): the same name and
 * issuer checks through OpenSSL (checkIssued), then the signature over the TBSCertificate
 * (RFC 5280 section 4.1.1.3) by node:crypto's verify with a callback, as OpenSSL's
 * X509_verify computes it. Only for the two algorithms ferry issues with, in exactly the
 * encoding it writes (sha256WithRSAEncryption with NULL parameters and an RSA issuer key;
 * ecdsa-with-SHA256 without parameters and an EC issuer key); every other certificate is left
 * to X509_verify, synchronously, through issuedBy itself. Pure apart from the thread pool.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { issuedBy } from './chain.js';
import { DerReader, Tag } from './der.js';
import { algorithm } from './der-write.js';
import { OID } from './oids.js';
import type { ParsedCert } from './x509.js';

const RSA_SHA256 = algorithm(OID.sha256WithRSA);
const ECDSA_SHA256 = algorithm(OID.ecdsaWithSHA256, true);

/** The signed bytes and the signature, when the algorithm is one of the two above for this issuer's key. */
function signedParts(cert: ParsedCert, issuer: ParsedCert): { tbs: Buffer; sig: Buffer } | undefined {
  const keyType = issuer.publicKey.asymmetricKeyType;
  try {
    const r = new DerReader('KEY_INVALID', 'certificate');
    const root = r.expect(r.decode(cert.der), Tag.SEQUENCE, 'Certificate', 3, 3);
    const alg = root.children[1]!.bytes;
    if (!((keyType === 'rsa' && alg.equals(RSA_SHA256)) || (keyType === 'ec' && alg.equals(ECDSA_SHA256)))) return undefined;
    return { tbs: root.children[0]!.bytes, sig: r.bitStringBytes(root.children[2], 'signature') };
  } catch {
    return undefined;
  }
}

/** True when `issuer` issued `cert` (issuedBy's answer), the signature checked on the thread pool. */
export function issuedByAsync(cert: ParsedCert, issuer: ParsedCert): Promise<boolean> {
  const signed = signedParts(cert, issuer);
  if (signed === undefined) return Promise.resolve(issuedBy(cert, issuer));
  if (!cert.issuerDer.equals(issuer.subjectDer)) return Promise.resolve(false);
  try {
    if (!cert.x509.checkIssued(issuer.x509)) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    try {
      cryptoVerify('sha256', signed.tbs, issuer.publicKey, signed.sig, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

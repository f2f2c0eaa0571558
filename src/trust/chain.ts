/**
 * Certificate path building and validation (RFC 5280 section 6, the parts ferry
 * needs): from a signer certificate through intermediates and cross-certificates to
 * a trusted root, checking each signature with node:crypto, CA basicConstraints,
 * keyUsage, pathLenConstraint, validity at the effective time, and revocation by
 * accepted CRLs. Pure.
 */
import { FerryError } from '../errors.js';
import type { ParsedCrl } from './crl.js';
import { crlSignedBy } from './crl.js';
import { OID } from './oids.js';
import type { ParsedCert } from './x509.js';

const MAX_PATH = 8;

/** A validated path: [signer, intermediates..., anchor]. */
export interface CertPath {
  certs: ParsedCert[];
  anchor: ParsedCert;
}

/** True when `issuer` issued `cert`: names match and the signature verifies with issuer's key. */
export function issuedBy(cert: ParsedCert, issuer: ParsedCert): boolean {
  if (!cert.issuerDer.equals(issuer.subjectDer)) return false;
  try {
    return cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** RSA keys below this size are refused anywhere in a chain. */
const MIN_RSA_BITS = 2048;

/** Refuse a certificate whose RSA key is too short to be trusted. */
export function checkKeyStrength(c: ParsedCert): void {
  const bits = c.publicKey.asymmetricKeyType === 'rsa' ? c.publicKey.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    throw new FerryError('UNTRUSTED_SIGNER', `certificate "${c.subject}" has a ${bits}-bit RSA key, below the ${MIN_RSA_BITS}-bit minimum: issue a new certificate with ferry pki (RSA-3072)`);
  }
}

/** Throw CERT_EXPIRED / CERT_NOT_YET_VALID unless `c` is valid at `t`. */
export function checkValidity(c: ParsedCert, t: number, role: string): void {
  const at = new Date(t).toISOString();
  if (t > c.notAfter.getTime()) {
    throw new FerryError('CERT_EXPIRED', `${role} certificate "${c.subject}" expired on ${c.notAfter.toISOString()} (checked at ${at}): issue a new certificate and re-sign, or check the device clock`, {
      details: { subject: c.subject, notAfter: c.notAfter.toISOString(), checkedAt: at },
    });
  }
  if (t < c.notBefore.getTime()) {
    throw new FerryError('CERT_NOT_YET_VALID', `${role} certificate "${c.subject}" is valid only from ${c.notBefore.toISOString()} (checked at ${at}): set the device clock, or carry a stick the device has verified recently`, {
      details: { subject: c.subject, notBefore: c.notBefore.toISOString(), checkedAt: at },
    });
  }
}

function checkCa(c: ParsedCert, below: number): void {
  checkKeyStrength(c);
  if (!c.isCA) throw new FerryError('UNTRUSTED_SIGNER', `"${c.subject}" issued a certificate in the chain but is not a CA (basicConstraints cA is not set): re-issue it with ferry pki issue-ca`);
  if (c.keyUsage && !c.keyUsage.has('keyCertSign')) throw new FerryError('UNTRUSTED_SIGNER', `"${c.subject}" may not sign certificates (keyUsage lacks keyCertSign): re-issue it with ferry pki issue-ca`);
  if (c.pathLen !== undefined && below > c.pathLen) throw new FerryError('UNTRUSTED_SIGNER', `"${c.subject}" allows ${c.pathLen} intermediate CAs below it but the chain has ${below}`);
}

/**
 * Find a valid path from `leaf` to one of `anchors`, using `pool` (embedded and
 * cross-certificates) for intermediates. Throws the most specific reason when none.
 */
export function buildPath(leaf: ParsedCert, pool: ParsedCert[], anchors: ParsedCert[], t: number, crls: ParsedCrl[]): CertPath {
  const ctx: Search = { pool, anchors, t, crls, failures: [], dead: new Map(), steps: 0 };
  const found = search([leaf], ctx);
  if (found) return found;
  const specific = ctx.failures[0];
  if (specific) throw specific;
  throw new FerryError('UNTRUSTED_SIGNER', `signer "${leaf.subject}" does not chain to a trusted root (issuer "${leaf.issuer}"): sign with a certificate from the device's root, or carry the cross-certificate for a new root`, {
    details: { subject: leaf.subject, issuer: leaf.issuer },
  });
}

/** Search state. `dead` remembers, per certificate, the shallowest depth from which no path was found. */
interface Search {
  pool: ParsedCert[];
  anchors: ParsedCert[];
  t: number;
  crls: ParsedCrl[];
  failures: FerryError[];
  dead: Map<string, number>;
  steps: number;
}

/** Signature checks one path search may make: a crafted pool of look-alike CAs must not make it run for ever. */
const MAX_STEPS = 2000;

function step(ctx: Search): void {
  if (++ctx.steps > MAX_STEPS) throw new FerryError('UNTRUSTED_SIGNER', `the certificate chain is too tangled to evaluate (over ${MAX_STEPS} candidate checks): sign with a plain chain from ferry pki`);
}

function search(path: ParsedCert[], ctx: Search): CertPath | undefined {
  const cur = path[path.length - 1]!;
  const below = path.length - 1;
  for (const a of ctx.anchors) {
    step(ctx);
    if (!issuedBy(cur, a)) continue;
    try {
      checkPathCert(cur, a, path.length === 1, ctx.t, ctx.crls);
      if (below > 0) checkCa(a, below);
      checkValidity(a, ctx.t, 'root');
      return { certs: [...path, a], anchor: a };
    } catch (e) {
      ctx.failures.push(e as FerryError);
    }
  }
  if (path.length >= MAX_PATH) return undefined;
  for (const c of ctx.pool) {
    if (path.some((p) => p.fingerprint === c.fingerprint) || ctx.anchors.some((a) => a.fingerprint === c.fingerprint)) continue;
    if ((ctx.dead.get(c.fingerprint) ?? Infinity) <= path.length) continue;
    step(ctx);
    if (!issuedBy(cur, c)) continue;
    try {
      checkPathCert(cur, c, path.length === 1, ctx.t, ctx.crls);
      checkCa(c, below);
      checkValidity(c, ctx.t, 'intermediate');
    } catch (e) {
      ctx.failures.push(e as FerryError);
      continue;
    }
    const found = search([...path, c], ctx);
    if (found) return found;
    ctx.dead.set(c.fingerprint, path.length);
  }
  return undefined;
}

/** Certificate signature algorithms accepted in a path: SHA-2 with RSA (PKCS#1 v1.5) or ECDSA; never SHA-1 or MD5. */
const CERT_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
]);

/** Signature algorithm, validity and revocation of `cert`, whose issuer in this path is `issuer`. */
function checkPathCert(cert: ParsedCert, issuer: ParsedCert, isLeaf: boolean, t: number, crls: ParsedCrl[]): void {
  if (!CERT_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithm)) {
    throw new FerryError('UNTRUSTED_SIGNER', `certificate "${cert.subject}" is signed with algorithm ${cert.signatureAlgorithm} (SHA-1, MD5 or unknown), not SHA-256/384/512: re-issue it with ferry pki`, {
      details: { subject: cert.subject, signatureAlgorithm: cert.signatureAlgorithm },
    });
  }
  checkValidity(cert, t, isLeaf ? 'signer' : 'intermediate');
  for (const crl of crls) {
    const when = crl.revoked.get(cert.serialHex);
    if (when && crlSignedBy(crl, issuer)) {
      throw new FerryError('CERT_REVOKED', `certificate "${cert.subject}" (serial ${cert.serialHex}) was revoked on ${when.toISOString()}: ask headquarters for an update signed by a current signer`, {
        details: { subject: cert.subject, serial: cert.serialHex, revokedAt: when.toISOString() },
      });
    }
  }
}

/** Signer-specific checks: codeSigning EKU and a signing keyUsage. */
export function checkSignerUsage(leaf: ParsedCert): void {
  checkKeyStrength(leaf);
  if (!leaf.extKeyUsage?.includes(OID.codeSigning)) {
    throw new FerryError('SIGNER_NOT_CODE_SIGNING', `certificate "${leaf.subject}" is not a code-signing certificate (no extendedKeyUsage codeSigning): sign with a certificate from ferry pki issue-signer`, {
      details: { subject: leaf.subject },
    });
  }
  if (leaf.keyUsage && !leaf.keyUsage.has('digitalSignature') && !leaf.keyUsage.has('nonRepudiation')) {
    throw new FerryError('SIGNER_NOT_CODE_SIGNING', `certificate "${leaf.subject}" may not make signatures (keyUsage lacks digitalSignature): re-issue it with ferry pki issue-signer`);
  }
}

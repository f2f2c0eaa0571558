/**
 * X.509 v2 CRLs (RFC 5280 section 5): a strict reader for the verifier and an
 * encoder for `ferry pki revoke`. node-forge cannot create CRLs, so the
 * TBSCertList is encoded here and signed by the caller's key (node:crypto). Pure.
 */
import { type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { ctxTag, DerReader, Tag } from './der.js';
import { algorithm, bitString, explicit, integer, octets, oid, seq, time, tlv } from './der-write.js';
import { OID } from './oids.js';
import type { ParsedCert } from './x509.js';

/** A parsed CRL. */
export interface ParsedCrl {
  der: Buffer;
  tbsDer: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  crlNumber: bigint;
  /** Revoked serials (content hex, as in ParsedCert.serialHex) → revocation date. */
  revoked: Map<string, Date>;
}

/** Parse a DER CRL; failures are CRL_INVALID. A crlNumber is required (ferry orders CRLs by it). */
export function parseCrl(der: Uint8Array, what = 'CRL'): ParsedCrl {
  const r = new DerReader('CRL_INVALID', what);
  const root = r.expect(r.decode(der), Tag.SEQUENCE, 'CertificateList', 3, 3);
  const tbs = r.expect(root.children[0], Tag.SEQUENCE, 'TBSCertList', 4, 7);
  const signatureAlgorithm = r.oid(r.expect(root.children[1], Tag.SEQUENCE, 'signatureAlgorithm', 1, 2).children[0], 'signatureAlgorithm');
  const signature = r.bitStringBytes(root.children[2], 'signatureValue');
  const f = tbs.children;
  if (r.smallInt(f[0], 'version') !== 1) r.fail('not a v2 CRL');
  const issuerDer = r.expect(f[2], Tag.SEQUENCE, 'issuer').bytes;
  const thisUpdate = r.time(f[3], 'thisUpdate');
  let k = 4;
  let nextUpdate: Date | undefined;
  if (f[k] && (f[k]!.tag === Tag.UTCTime || f[k]!.tag === Tag.GeneralizedTime)) nextUpdate = r.time(f[k++], 'nextUpdate');
  const revoked = new Map<string, Date>();
  if (f[k]?.tag === Tag.SEQUENCE) {
    for (const e of f[k++]!.children) {
      r.expect(e, Tag.SEQUENCE, 'revokedCertificate', 2, 3);
      revoked.set(r.integerBytes(e.children[0], 'userCertificate').toString('hex'), r.time(e.children[1], 'revocationDate'));
    }
  }
  let crlNumber: bigint | undefined;
  if (f[k]?.tag === ctxTag(0, true)) {
    const exts = r.expect(r.expect(f[k++], ctxTag(0, true), 'crlExtensions', 1, 1).children[0], Tag.SEQUENCE, 'extensions');
    for (const e of exts.children) {
      r.expect(e, Tag.SEQUENCE, 'extension', 2, 3);
      const id = r.oid(e.children[0], 'extnID');
      const critical = e.children.length === 3 && r.boolean(e.children[1], 'critical');
      const value = r.octets(e.children[e.children.length - 1], 'extnValue');
      if (id === OID.crlNumber) crlNumber = r.bigInt(r.decode(value), 'cRLNumber');
      else if (critical) r.fail(`unknown critical CRL extension ${id}`);
    }
  }
  if (k !== f.length) r.fail('unexpected fields in TBSCertList');
  if (crlNumber === undefined) return r.fail('no cRLNumber extension');
  return { der: Buffer.from(der), tbsDer: tbs.bytes, signatureAlgorithm, signature, issuerDer, thisUpdate, nextUpdate, crlNumber, revoked };
}

/** True when `issuer` signed `crl` (names equal and the signature verifies with its key). */
export function crlSignedBy(crl: ParsedCrl, issuer: ParsedCert): boolean {
  if (!crl.issuerDer.equals(issuer.subjectDer)) return false;
  if (crl.signatureAlgorithm !== OID.sha256WithRSA && crl.signatureAlgorithm !== OID.ecdsaWithSHA256) return false;
  if (issuer.keyUsage && !issuer.keyUsage.has('cRLSign')) return false;
  try {
    return cryptoVerify('sha256', crl.tbsDer, issuer.publicKey, crl.signature);
  } catch {
    return false;
  }
}

/** True when `a` is newer than `b`: higher crlNumber, or the same number with a later thisUpdate. */
export function crlNewer(a: ParsedCrl, b: ParsedCrl): boolean {
  return a.crlNumber > b.crlNumber || (a.crlNumber === b.crlNumber && a.thisUpdate.getTime() > b.thisUpdate.getTime());
}

/** What a new CRL says. */
export interface CrlContent {
  issuer: ParsedCert;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  /** serial content hex → revocation date. */
  revoked: Map<string, Date>;
}

/** Encode and sign a v2 CRL (RSA or ECDSA key of the issuer, SHA-256). */
export function buildCrl(c: CrlContent, key: KeyObject): Buffer {
  const ec = key.asymmetricKeyType === 'ec';
  const alg = ec ? algorithm(OID.ecdsaWithSHA256, true) : algorithm(OID.sha256WithRSA);
  const entries = [...c.revoked].sort(([a], [b]) => a.localeCompare(b)).map(([serial, when]) => seq(tlv(0x02, Buffer.from(serial, 'hex')), time(when)));
  const akid = c.issuer.subjectKeyId ? [seq(oid(OID.authorityKeyIdentifier), octets(seq(tlv(0x80, c.issuer.subjectKeyId))))] : [];
  const exts = explicit(0, seq(...akid, seq(oid(OID.crlNumber), octets(integer(c.crlNumber)))));
  const tbs = seq(integer(1), alg, c.issuer.subjectDer, time(c.thisUpdate), time(c.nextUpdate), ...(entries.length ? [seq(...entries)] : []), exts);
  const sig = cryptoSign('sha256', tbs, key);
  return seq(tbs, alg, bitString(sig));
}

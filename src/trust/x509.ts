/**
 * X.509 certificates (RFC 5280) for the verifier: node:crypto's X509Certificate does
 * signature checks; the fields Node does not expose (basicConstraints, keyUsage,
 * extendedKeyUsage, key identifiers, exact issuer/subject bytes, validity as dates)
 * come from our strict DER reader. Pure.
 */
import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import { FerryError, type ErrorCode } from '../errors.js';
import { ctxTag, DerReader, type DerNode, Tag } from './der.js';
import { OID } from './oids.js';

/** A certificate with the fields ferry's chain and policy checks need. */
export interface ParsedCert {
  der: Buffer;
  x509: X509Certificate;
  publicKey: KeyObject;
  /** Serial number content bytes, hex (exactly as encoded). */
  serialHex: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** OID of the algorithm the issuer signed this certificate with. */
  signatureAlgorithm: string;
  /** One-line subject and issuer, e.g. "CN=QA signer, O=ACME". */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certificate DER, hex. */
  fingerprint: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex: identifies the key across re-issued certs. */
  keyId: string;
  /** basicConstraints cA (false when the extension is absent). */
  isCA: boolean;
  pathLen: number | undefined;
  /** keyUsage bits by name; undefined when the extension is absent. */
  keyUsage: Set<KeyUsage> | undefined;
  /** extendedKeyUsage OIDs; undefined when absent. */
  extKeyUsage: string[] | undefined;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
}

/** keyUsage bit names (RFC 5280 4.2.1.3), in bit order. */
export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BITS: KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];

/** Extensions ferry understands; any other extension marked critical is refused (RFC 5280 4.2). */
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectKeyIdentifier, OID.authorityKeyIdentifier]);

/** Parse a DER certificate; every failure is a FerryError with `code`. */
export function parseCertificate(der: Uint8Array, what = 'certificate', code: ErrorCode = 'MALFORMED_SIGNATURE'): ParsedCert {
  const r = new DerReader(code, what);
  const root = r.expect(r.decode(der), Tag.SEQUENCE, 'Certificate', 3, 3);
  const tbs = r.expect(root.children[0], Tag.SEQUENCE, 'TBSCertificate', 6, 10);
  const f = tbs.children;
  let i = 0;
  if (f[0]?.tag === ctxTag(0, true)) {
    const v = r.smallInt(r.expect(f[0], ctxTag(0, true), 'version', 1, 1).children[0], 'version');
    if (v !== 2) r.fail(`version ${v + 1}, expected v3`);
    i = 1;
  } else r.fail('v1 certificates carry no constraints and are not accepted');
  const serial = r.integerBytes(f[i], 'serialNumber');
  // RFC 5280 4.1.1.2: the outer signatureAlgorithm must equal the one inside the signed part.
  if (!r.expect(root.children[1], Tag.SEQUENCE, 'signatureAlgorithm').bytes.equals(r.expect(f[i + 1], Tag.SEQUENCE, 'signature').bytes)) r.fail('signature algorithm differs inside and outside the signed part');
  const signatureAlgorithm = r.oid(r.expect(f[i + 1], Tag.SEQUENCE, 'signature', 1, 2).children[0], 'signature');
  const issuer = r.expect(f[i + 2], Tag.SEQUENCE, 'issuer');
  const validity = r.expect(f[i + 3], Tag.SEQUENCE, 'validity', 2, 2);
  const subject = r.expect(f[i + 4], Tag.SEQUENCE, 'subject');
  const spki = r.expect(f[i + 5], Tag.SEQUENCE, 'subjectPublicKeyInfo', 2, 2);
  const buf = Buffer.from(der);
  let x509: X509Certificate;
  let publicKey: KeyObject;
  let names: { subject: string; issuer: string };
  try {
    // Node decodes some parts lazily; touch them here so damage surfaces as a FerryError.
    x509 = new X509Certificate(buf);
    publicKey = x509.publicKey;
    names = { subject: oneLine(x509.subject), issuer: oneLine(x509.issuer) };
  } catch (e) {
    throw new FerryError(code, `${what} is not a certificate node:crypto can read: ${(e as Error).message}`, { cause: e });
  }
  const extNode = f.slice(i + 6).find((n) => n.tag === ctxTag(3, true));
  const ext = parseExtensions(r, extNode);
  return {
    der: buf,
    x509,
    serialHex: serial.toString('hex'),
    issuerDer: issuer.bytes,
    subjectDer: subject.bytes,
    signatureAlgorithm,
    publicKey,
    ...names,
    notBefore: r.time(validity.children[0], 'notBefore'),
    notAfter: r.time(validity.children[1], 'notAfter'),
    fingerprint: createHash('sha256').update(buf).digest('hex'),
    keyId: createHash('sha256').update(spki.bytes).digest('hex'),
    ...ext,
  };
}

type Ext = Pick<ParsedCert, 'isCA' | 'pathLen' | 'keyUsage' | 'extKeyUsage' | 'subjectKeyId' | 'authorityKeyId'>;

function parseExtensions(r: DerReader, node: DerNode | undefined): Ext {
  const out: Ext = { isCA: false, pathLen: undefined, keyUsage: undefined, extKeyUsage: undefined, subjectKeyId: undefined, authorityKeyId: undefined };
  if (!node) return out;
  const list = r.expect(node.children[0], Tag.SEQUENCE, 'extensions', 1);
  if (node.children.length !== 1) r.fail('extensions wrapper');
  const seen = new Set<string>();
  for (const e of list.children) {
    r.expect(e, Tag.SEQUENCE, 'extension', 2, 3);
    const id = r.oid(e.children[0], 'extnID');
    if (seen.has(id)) r.fail(`extension ${id} appears twice`);
    seen.add(id);
    const critical = e.children.length === 3 ? r.boolean(e.children[1], 'critical') : false;
    const value = r.decode(r.octets(e.children[e.children.length - 1], 'extnValue'));
    if (critical && !KNOWN_CRITICAL.has(id)) r.fail(`unknown critical extension ${id}`);
    readExtension(r, id, value, out);
  }
  return out;
}

function readExtension(r: DerReader, id: string, v: DerNode, out: Ext): void {
  switch (id) {
    case OID.basicConstraints: {
      r.expect(v, Tag.SEQUENCE, 'basicConstraints', 0, 2);
      let k = 0;
      if (v.children[0]?.tag === Tag.BOOLEAN) out.isCA = r.boolean(v.children[k++], 'cA');
      if (v.children[k]) out.pathLen = r.smallInt(v.children[k], 'pathLenConstraint');
      break;
    }
    case OID.keyUsage:
      out.keyUsage = new Set(r.bits(v, 'keyUsage').flatMap((on, i) => (on && KEY_USAGE_BITS[i] ? [KEY_USAGE_BITS[i]] : [])));
      break;
    case OID.extKeyUsage:
      out.extKeyUsage = r.expect(v, Tag.SEQUENCE, 'extKeyUsage', 1).children.map((c) => r.oid(c, 'keyPurposeId'));
      break;
    case OID.subjectKeyIdentifier:
      out.subjectKeyId = r.octets(v, 'subjectKeyIdentifier');
      break;
    case OID.authorityKeyIdentifier: {
      const kid = r.expect(v, Tag.SEQUENCE, 'authorityKeyIdentifier').children.find((c) => c.tag === ctxTag(0, false));
      out.authorityKeyId = kid?.content;
      break;
    }
    default:
      break;
  }
}

/** Node prints names one attribute per line; ferry's messages want one line. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

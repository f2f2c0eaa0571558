/**
 * Reading a detached CMS SignedData (RFC 5652 sections 3, 5) with the strict DER
 * reader. Pure: structure only; signatures are checked in verify.ts.
 */
import { ctxTag, DerReader, type DerNode, Tag } from './der.js';
import { OID } from './oids.js';

/** How a SignerInfo names its certificate (RFC 5652 5.3). */
export type SignerId = { kind: 'issuerSerial'; issuerDer: Buffer; serialHex: string } | { kind: 'keyId'; keyId: Buffer };

/** One SignerInfo, with its signed attributes decoded. */
export interface ParsedSignerInfo {
  sid: SignerId;
  digestAlgorithm: string;
  /** The DER SET OF Attribute that was signed (the [0] IMPLICIT tag re-tagged as SET, RFC 5652 5.4). */
  signedAttrsDer: Buffer;
  contentType: string;
  messageDigest: Buffer;
  signingTime: Date;
  signatureAlgorithm: string;
  signature: Buffer;
  /** The SignerInfo's own encoding (kept byte-exact when a co-signer appends). */
  bytes: Buffer;
}

/** A parsed SignedData with the pieces needed to verify it or append a SignerInfo. */
export interface ParsedSignedData {
  digestAlgorithms: Buffer[];
  digestAlgorithmOids: string[];
  eContentType: string;
  certificates: Buffer[];
  crls: Buffer[];
  signerInfos: ParsedSignerInfo[];
}

const MAX_SIGNERS = 16;
const MAX_CERTS = 64;

/** Parse ContentInfo → SignedData; refuses embedded content (ferry signatures are detached). */
export function parseSignedData(der: Uint8Array): ParsedSignedData {
  const r = new DerReader('MALFORMED_SIGNATURE', 'signature');
  const ci = r.expect(r.decode(der), Tag.SEQUENCE, 'ContentInfo', 2, 2);
  if (r.oid(ci.children[0], 'contentType') !== OID.signedData) r.fail('ContentInfo is not SignedData');
  const wrap = r.expect(ci.children[1], ctxTag(0, true), 'content', 1, 1);
  const sd = r.expect(wrap.children[0], Tag.SEQUENCE, 'SignedData', 4, 6);
  const c = sd.children;
  const version = r.smallInt(c[0], 'version');
  if (version !== 1 && version !== 3) r.fail(`SignedData version ${version}`);
  const algNodes = r.expect(c[1], Tag.SET, 'digestAlgorithms').children;
  const digestAlgorithmOids = algNodes.map((n) => algorithmId(r, n, 'digestAlgorithm'));
  const digestAlgorithms = algNodes.map((n) => n.bytes);
  const encap = r.expect(c[2], Tag.SEQUENCE, 'encapContentInfo', 1, 2);
  const eContentType = r.oid(encap.children[0], 'eContentType');
  if (encap.children.length !== 1) r.fail('the signature embeds its content; ferry signatures are detached');
  let k = 3;
  let certificates: Buffer[] = [];
  let crls: Buffer[] = [];
  if (c[k]?.tag === ctxTag(0, true)) certificates = c[k++]!.children.map((n) => r.expect(n, Tag.SEQUENCE, 'certificate').bytes);
  if (c[k]?.tag === ctxTag(1, true)) crls = c[k++]!.children.map((n) => n.bytes);
  const infos = r.expect(c[k], Tag.SET, 'signerInfos', 1, MAX_SIGNERS);
  if (k !== c.length - 1) r.fail('unexpected fields after signerInfos');
  if (certificates.length > MAX_CERTS) r.fail(`${certificates.length} certificates`);
  return { digestAlgorithms, digestAlgorithmOids, eContentType, certificates, crls, signerInfos: infos.children.map((n) => parseSignerInfo(r, n)) };
}

function parseSignerInfo(r: DerReader, n: DerNode): ParsedSignerInfo {
  const c = r.expect(n, Tag.SEQUENCE, 'SignerInfo', 5, 7).children;
  const version = r.smallInt(c[0], 'SignerInfo version');
  let sid: SignerId;
  if (version === 1) {
    const ias = r.expect(c[1], Tag.SEQUENCE, 'issuerAndSerialNumber', 2, 2);
    sid = { kind: 'issuerSerial', issuerDer: r.expect(ias.children[0], Tag.SEQUENCE, 'issuer').bytes, serialHex: r.integerBytes(ias.children[1], 'serialNumber').toString('hex') };
  } else if (version === 3) {
    if (c[1]?.tag !== ctxTag(0, false)) r.fail('subjectKeyIdentifier expected for SignerInfo v3');
    sid = { kind: 'keyId', keyId: c[1].content };
  } else return r.fail(`SignerInfo version ${version}`);
  const digestAlgorithm = algorithmId(r, c[2], 'digestAlgorithm');
  if (c[3]?.tag !== ctxTag(0, true)) r.fail('the SignerInfo has no signed attributes; ferry requires contentType, messageDigest and signingTime');
  const attrsNode = c[3];
  const attrs = readAttributes(r, attrsNode);
  const sigAlg = algorithmId(r, c[4], 'signatureAlgorithm');
  const signature = r.octets(c[5], 'signature');
  if (c.length === 7 && c[6]!.tag !== ctxTag(1, true)) r.fail('unexpected field after signature');
  const signedAttrsDer = Buffer.from(attrsNode.bytes);
  signedAttrsDer[0] = Tag.SET;
  return { sid, digestAlgorithm, signedAttrsDer, ...attrs, signatureAlgorithm: sigAlg, signature, bytes: n.bytes };
}

/** AlgorithmIdentifier: the OID; parameters must be absent or NULL (RFC 5754, RFC 4055). */
function algorithmId(r: DerReader, n: DerNode | undefined, name: string): string {
  const seqNode = r.expect(n, Tag.SEQUENCE, name, 1, 2);
  const params = seqNode.children[1];
  if (params && (params.tag !== Tag.NULL || params.content.length !== 0)) r.fail(`${name} has parameters other than NULL`);
  return r.oid(seqNode.children[0], name);
}

function readAttributes(r: DerReader, node: DerNode): Pick<ParsedSignerInfo, 'contentType' | 'messageDigest' | 'signingTime'> {
  const byType = new Map<string, DerNode>();
  for (const a of node.children) {
    r.expect(a, Tag.SEQUENCE, 'attribute', 2, 2);
    const type = r.oid(a.children[0], 'attrType');
    if (byType.has(type)) r.fail(`signed attribute ${type} appears twice`);
    const values = r.expect(a.children[1], Tag.SET, `attribute ${type} values`, 1);
    byType.set(type, values);
  }
  const single = (oid: string, name: string): DerNode => {
    const v = byType.get(oid);
    if (!v) return r.fail(`signed attribute ${name} is missing`);
    if (v.children.length !== 1) r.fail(`signed attribute ${name} must have exactly one value`);
    return v.children[0]!;
  };
  return {
    contentType: r.oid(single(OID.contentType, 'contentType'), 'contentType'),
    messageDigest: r.octets(single(OID.messageDigest, 'messageDigest'), 'messageDigest'),
    signingTime: r.time(single(OID.signingTime, 'signingTime'), 'signingTime'),
  };
}

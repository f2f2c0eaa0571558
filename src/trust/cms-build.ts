/**
 * Building detached CMS SignedData (RFC 5652) with our DER encoder, for one or more
 * Signers, and appending a further SignerInfo to an existing signature (m-of-n:
 * build + QA). node-forge can create a SignedData only with forge private keys in
 * hand and cannot add a SignerInfo to an existing one, so the SignedData is built
 * here and the signature comes from the pluggable Signer (file key, HSM, command).
 * Pure apart from the Signer call.
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { parseSignedData } from './cms.js';
import { algorithm, explicit, integer, octets, oid, seq, setOf, time, tlv } from './der-write.js';
import { OID } from './oids.js';
import type { Signer } from './types.js';
import { type ParsedCert, parseCertificate } from './x509.js';

/** The signer's own certificate (certificateChain[0]), parsed. */
function signerCertificate(signer: Signer): ParsedCert {
  const leaf = signer.certificateChain[0];
  if (!leaf) throw new FerryError('KEY_INVALID', 'the signer has no certificate: put cert.pem beside key.pem');
  return parseCertificate(leaf, 'signer certificate', 'KEY_INVALID');
}

/** Build one SignerInfo (version 1, issuerAndSerialNumber) by `signer`, whose certificate is `cert`, over content with SHA-256 `digest`. */
async function buildSignerInfo(signer: Signer, cert: ParsedCert, digest: Buffer, signingTime: Date): Promise<Buffer> {
  const attrs = [
    seq(oid(OID.contentType), setOf([oid(OID.data)])),
    seq(oid(OID.signingTime), setOf([time(signingTime)])),
    seq(oid(OID.messageDigest), setOf([octets(digest)])),
  ];
  const signedAttrs = setOf(attrs);
  const signature = await signer.sign(signedAttrs);
  const keyType = cert.publicKey.asymmetricKeyType;
  const sigAlg = keyType === 'ec' ? algorithm(OID.ecdsaWithSHA256, true) : keyType === 'rsa' ? algorithm(OID.sha256WithRSA) : undefined;
  if (!sigAlg) throw new FerryError('KEY_INVALID', `signer key type ${keyType} is not supported: use RSA (3072 bits or more) or ECDSA P-256/P-384`);
  return seq(
    integer(1),
    seq(cert.issuerDer, tlv(0x02, Buffer.from(cert.serialHex, 'hex'))),
    algorithm(OID.sha256, true),
    tlv(0xa0, signedAttrs.subarray(headerLength(signedAttrs))),
    sigAlg,
    octets(signature),
  );
}

/** Create a detached SignedData over `content`, one SignerInfo per signer. */
export async function createSignedData(content: Uint8Array, signers: Signer[], signingTime: Date): Promise<Buffer> {
  const digest = createHash('sha256').update(content).digest();
  const infos: Buffer[] = [];
  for (const s of signers) infos.push(await buildSignerInfo(s, signerCertificate(s), digest, signingTime));
  return assemble([algorithm(OID.sha256, true)], signers.flatMap((s) => s.certificateChain), [], infos);
}

/**
 * Append a SignerInfo to an existing detached signature of `content`, keeping the
 * existing SignerInfos byte for byte. Refuses when the existing signature is over
 * other content, or when this certificate already signed.
 */
export async function appendSignerInfo(existing: Uint8Array, content: Uint8Array, signer: Signer, signingTime: Date): Promise<Buffer> {
  const sd = parseSignedData(existing);
  const digest = createHash('sha256').update(content).digest();
  if (sd.signerInfos.some((si) => !si.messageDigest.equals(digest))) {
    throw new FerryError('SIGNATURE_INVALID', 'the existing signature is over different content than this manifest: re-publish the update instead of co-signing');
  }
  const leaf = signerCertificate(signer);
  const dup = sd.signerInfos.some((si) => si.sid.kind === 'issuerSerial' && si.sid.serialHex === leaf.serialHex && si.sid.issuerDer.equals(leaf.issuerDer));
  if (dup) throw new FerryError('USAGE', `${leaf.subject} already signed this update: a second signature by the same signer does not count`);
  const info = await buildSignerInfo(signer, leaf, digest, signingTime);
  return assemble([...sd.digestAlgorithms, algorithm(OID.sha256, true)], [...sd.certificates, ...signer.certificateChain], sd.crls, [...sd.signerInfos.map((s) => s.bytes), info]);
}

function assemble(digestAlgs: Buffer[], certs: Buffer[], crls: Buffer[], infos: Buffer[]): Buffer {
  const signedData = seq(
    integer(1),
    setOf(unique(digestAlgs)),
    seq(oid(OID.data)),
    setOf(unique(certs), 0xa0),
    ...(crls.length ? [setOf(crls, 0xa1)] : []),
    setOf(infos),
  );
  return seq(oid(OID.signedData), explicit(0, signedData));
}

function unique(items: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const b of items) if (!out.some((o) => o.equals(b))) out.push(b);
  return out;
}

function headerLength(der: Buffer): number {
  const l = der[1]!;
  return l & 0x80 ? 2 + (l & 0x7f) : 2;
}

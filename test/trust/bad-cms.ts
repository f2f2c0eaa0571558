/**
 * Deliberately wrong CMS signatures for the bad-input corpus, built with the DER
 * encoder so each one breaks exactly one rule.
 */
import { createHash, sign as cryptoSign } from 'node:crypto';
import forge from 'node-forge';
import { algorithm, explicit, integer, octets, oid, seq, setOf, time, tlv } from '../../src/trust/der-write.js';
import { OID } from '../../src/trust/oids.js';
import { parseCertificate } from '../../src/trust/x509.js';
import { type Issued, NOW } from './helpers.js';

/** Knobs, each breaking one thing. */
export interface BadCmsOptions {
  contentType?: string;
  eContentType?: string;
  digestAlgorithm?: string;
  /** Override the messageDigest value. */
  messageDigest?: Buffer;
  noSignedAttrs?: boolean;
  noSigningTime?: boolean;
  /** Leave the certificates out. */
  noCerts?: boolean;
  /** Sign with this key instead of the certificate's. */
  wrongKey?: Issued['key'];
  extraCerts?: Buffer[];
  signingTime?: Date;
}

/** A detached SignedData over `content` by `leaf`, broken as asked. */
export function badSignedData(content: Buffer, leaf: Issued, o: BadCmsOptions = {}): Buffer {
  const cert = parseCertificate(leaf.cert);
  const digestAlg = o.digestAlgorithm ?? OID.sha256;
  const hashName = digestAlg === OID.sha256 ? 'sha256' : 'sha1';
  const md = o.messageDigest ?? createHash(hashName).update(content).digest();
  const attrs = [seq(oid(OID.contentType), setOf([oid(o.contentType ?? OID.data)])), seq(oid(OID.messageDigest), setOf([octets(md)]))];
  if (!o.noSigningTime) attrs.push(seq(oid(OID.signingTime), setOf([time(o.signingTime ?? NOW)])));
  const signedAttrs = setOf(attrs);
  const key = o.wrongKey ?? leaf.key;
  const toSign = o.noSignedAttrs ? content : signedAttrs;
  const signature = cryptoSign(hashName, toSign, key);
  const info = seq(
    integer(1),
    seq(cert.issuerDer, tlv(0x02, Buffer.from(cert.serialHex, 'hex'))),
    algorithm(digestAlg, true),
    ...(o.noSignedAttrs ? [] : [tlv(0xa0, signedAttrs.subarray(2 + (signedAttrs[1]! & 0x80 ? signedAttrs[1]! & 0x7f : 0)))]),
    algorithm(OID.sha256WithRSA),
    octets(signature),
  );
  const certs = o.noCerts ? [] : [setOf([leaf.cert, ...(o.extraCerts ?? [])], 0xa0)];
  const sd = seq(integer(1), setOf([algorithm(digestAlg, true)]), seq(oid(o.eContentType ?? OID.data)), ...certs, setOf([info]));
  return seq(oid(OID.signedData), explicit(0, sd));
}

/** A SignedData made by node-forge (interop), detached unless `embed`. */
export function forgeSignedData(content: Buffer, leaf: Issued, embed = false): Buffer {
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(content.toString('binary'));
  const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(leaf.cert.toString('binary'))));
  p7.addCertificate(cert);
  p7.addSigner({
    key: forge.pki.privateKeyFromPem(leaf.key.export({ type: 'pkcs1', format: 'pem' }) as string),
    certificate: cert,
    digestAlgorithm: forge.pki.oids.sha256!,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType!, value: forge.pki.oids.data! },
      { type: forge.pki.oids.messageDigest! },
      { type: forge.pki.oids.signingTime!, value: NOW as unknown as string },
    ],
  });
  p7.sign({ detached: !embed });
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary');
}

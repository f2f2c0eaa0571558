/**
 * Creating X.509 v3 certificates with node-forge (RSA): roots, intermediate CAs,
 * code-signing certificates and cross-certificates (RFC 5280 4.2.1.*). Keys come
 * from node:crypto (forge's RSA key generation is far too slow for 3072 bits) and
 * are handed to forge only to sign the certificate. Pure apart from randomness.
 */
import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { FerryError } from '../errors.js';
import { parseCertificate } from './x509.js';

/** What kind of certificate to make; `custom` lets tests build deliberately bad ones. */
export type CertProfile = 'root' | 'ca' | 'signer' | 'custom';

/** Input of createCertificate. */
export interface CertSpec {
  profile: CertProfile;
  /** commonName of the subject (ignored when `sameSubjectAs` is given). */
  commonName: string;
  /** The subject's key (public, or the private key it derives from). */
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** The key that signs: the issuing CA's private key, or the root's own for a self-signed root. */
  signingKey: KeyObject;
  /** The issuing CA's certificate; absent for a self-signed root. */
  issuerCert?: Uint8Array;
  /** Copy the subject of this certificate exactly (cross-certificates). */
  sameSubjectAs?: Uint8Array;
  /** For intermediate CAs: basicConstraints pathLenConstraint. */
  pathLen?: number;
  /** Only for profile 'custom': forge extension objects used as given. */
  extensions?: object[];
}

function forgeCert(der: Uint8Array): forge.pki.Certificate {
  return forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary'))));
}

/**
 * A certificate's subject as forge attributes that re-encode to the same bytes:
 * forge's parser keeps UTF8String values as raw UTF-8 while its encoder encodes
 * them again, so they are decoded here first.
 */
function subjectAttributes(der: Uint8Array): forge.pki.CertificateField[] {
  return forgeCert(der).subject.attributes.map((a) =>
    (a.valueTagClass as unknown) === forge.asn1.Type.UTF8 && typeof a.value === 'string' ? { ...a, value: forge.util.decodeUtf8(a.value) } : a,
  );
}

function forgeKey(key: KeyObject): forge.pki.rsa.PrivateKey {
  if (key.asymmetricKeyType !== 'rsa') throw new FerryError('KEY_INVALID', `the CA key is ${key.asymmetricKeyType}; ferry's CAs use RSA keys (3072 bits or more)`);
  return forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey;
}

/** A positive 16-byte serial whose first byte is 0x10..0x7f (so its DER INTEGER is minimal). */
export function newSerialHex(): string {
  const b = randomBytes(16);
  b[0] = 0x10 + (b[0]! % 0x70);
  return b.toString('hex');
}

function profileExtensions(spec: CertSpec, issuerSki: string | undefined): object[] {
  const aki = issuerSki ? [{ name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(issuerSki) }] : [];
  switch (spec.profile) {
    case 'root':
      return [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }, ...aki];
    case 'ca':
      return [
        { name: 'basicConstraints', cA: true, critical: true, ...(spec.pathLen !== undefined ? { pathLenConstraint: spec.pathLen } : {}) },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
        ...aki,
      ];
    case 'signer':
      return [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', codeSigning: true },
        { name: 'subjectKeyIdentifier' },
        ...aki,
      ];
    case 'custom':
      return [...(spec.extensions ?? []), ...aki];
  }
}

/** Create and sign a certificate; returns its DER. */
export function createCertificate(spec: CertSpec): Buffer {
  const cert = forge.pki.createCertificate();
  const pub = spec.publicKey.type === 'private' ? createPublicKey(spec.publicKey) : spec.publicKey;
  cert.publicKey = forge.pki.publicKeyFromPem(pub.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = newSerialHex();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const subjectAttrs = spec.sameSubjectAs
    ? subjectAttributes(spec.sameSubjectAs)
    : [{ name: 'commonName', value: spec.commonName, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }];
  cert.setSubject(subjectAttrs);
  const issuer = spec.issuerCert ? parseCertificate(spec.issuerCert, 'issuer certificate', 'KEY_INVALID') : undefined;
  cert.setIssuer(spec.issuerCert ? subjectAttributes(spec.issuerCert) : subjectAttrs);
  cert.setExtensions(profileExtensions(spec, issuer?.subjectKeyId?.toString('hex')));
  cert.sign(forgeKey(spec.signingKey), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  // Chains match names byte for byte: make sure forge's re-encoding of the issuer name kept every byte.
  const made = parseCertificate(der, 'new certificate', 'INTERNAL');
  const issuerSubject = issuer ? issuer.subjectDer : made.subjectDer;
  if (!made.issuerDer.equals(issuerSubject)) throw new FerryError('INTERNAL', "the new certificate's issuer name does not match the issuing CA's subject byte for byte");
  return der;
}

/**
 * Device enrolment certificates (issue 15, "receipts that cannot be forged"). The device
 * makes a PKCS#10 request (RFC 2986) for its ECDSA P-256 receipt key with its device id as
 * the common name; HQ's device CA checks the request's self-signature (proof that the
 * device holds the key) and issues an X.509 v3 certificate (RFC 5280) for it: not a CA,
 * keyUsage digitalSignature only, and no extendedKeyUsage codeSigning, so a device key can
 * never sign an update a device would accept (chain.ts checkSignerUsage). node-forge builds
 * RSA certificates only, so both are encoded here and signed with node:crypto. Pure apart
 * from randomness (the serial).
 */
import { createHash, createPublicKey, type KeyObject, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { FerryError } from '../errors.js';
import { DerReader, Tag } from './der.js';
import { algorithm, bitString, explicit, integer, octets, oid, seq, time, tlv } from './der-write.js';
import { OID } from './oids.js';
import type { ParsedCert } from './x509.js';

const CN = '2.5.4.3';
/** Device ids HQ certifies: what a receipts folder name may be (no separators, no controls). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function nameOf(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid(CN), tlv(Tag.UTF8String, Buffer.from(commonName, 'utf8')))));
}

function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/** A PKCS#10 certification request for the device key, CN = device id, signed by that key. */
export function buildDeviceCsr(deviceId: string, privateKey: KeyObject): Buffer {
  const info = seq(integer(0), nameOf(deviceId), spkiOf(privateKey), tlv(0xa0, Buffer.alloc(0)));
  const alg = algorithm(OID.ecdsaWithSHA256, true);
  return seq(info, alg, bitString(cryptoSign('sha256', info, privateKey)));
}

/** What a verified device request asks for. */
export interface DeviceRequest {
  deviceId: string;
  publicKey: KeyObject;
  /** "sha256:<hex>" of the SubjectPublicKeyInfo (as in receipts' signature.keyId). */
  keyId: string;
  spkiDer: Buffer;
}

/** Parse a device's PKCS#10 request and check its self-signature; failures are KEY_INVALID. */
export function parseDeviceCsr(der: Uint8Array, what = 'device request'): DeviceRequest {
  const r = new DerReader('KEY_INVALID', what);
  const root = r.expect(r.decode(der), Tag.SEQUENCE, 'CertificationRequest', 3, 3);
  const info = r.expect(root.children[0], Tag.SEQUENCE, 'CertificationRequestInfo', 4, 4);
  if (r.smallInt(info.children[0], 'version') !== 0) r.fail('version is not 1');
  const name = r.expect(info.children[1], Tag.SEQUENCE, 'subject', 1, 1);
  const atv = r.expect(r.expect(name.children[0], Tag.SET, 'RDN', 1, 1).children[0], Tag.SEQUENCE, 'AttributeTypeAndValue', 2, 2);
  if (r.oid(atv.children[0], 'attribute type') !== CN) r.fail('the subject is not a single common name');
  const cnNode = atv.children[1]!;
  if (cnNode.tag !== Tag.UTF8String && cnNode.tag !== Tag.PrintableString) r.fail('the common name is not a UTF8String');
  const deviceId = cnNode.content.toString('utf8');
  const spkiDer = r.expect(info.children[2], Tag.SEQUENCE, 'subjectPublicKeyInfo', 2, 2).bytes;
  if (r.oid(r.expect(root.children[1], Tag.SEQUENCE, 'signatureAlgorithm', 1, 1).children[0], 'signatureAlgorithm') !== OID.ecdsaWithSHA256) r.fail('not signed with ecdsa-with-SHA256');
  const sig = r.bitStringBytes(root.children[2], 'signature');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch (e) {
    throw new FerryError('KEY_INVALID', `${what}: its public key cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new FerryError('KEY_INVALID', `${what}: the key is not ECDSA P-256: make the request with ferry device init`);
  }
  if (!cryptoVerify('sha256', info.bytes, publicKey, sig)) throw new FerryError('KEY_INVALID', `${what}: the request's signature does not verify: it was changed after the device made it; export it again`);
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new FerryError('KEY_INVALID', `${what}: the device id is not 1-128 letters, digits, ".", "_", ":" or "-"`);
  return { deviceId, publicKey, spkiDer, keyId: `sha256:${createHash('sha256').update(spkiDer).digest('hex')}` };
}

/** Input of issueDeviceCertificate. */
export interface DeviceCertSpec {
  request: DeviceRequest;
  issuer: ParsedCert;
  issuerKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

/** Issue the device certificate (DER): CN = device id, the request's key, signed by the device CA. */
export function issueDeviceCertificate(s: DeviceCertSpec): Buffer {
  const ec = s.issuerKey.asymmetricKeyType === 'ec';
  const alg = ec ? algorithm(OID.ecdsaWithSHA256, true) : algorithm(OID.sha256WithRSA);
  const serial = randomBytes(16);
  serial[0] = 0x10 + (serial[0]! % 0x70);
  const ski = createHash('sha1').update(s.request.spkiDer).digest();
  const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [tlv(Tag.BOOLEAN, Buffer.from([0xff]))] : []), octets(value));
  const exts = [
    // cA FALSE is the DEFAULT and DER omits it: an empty SEQUENCE
    ext(OID.basicConstraints, true, seq()),
    // digitalSignature only (bit 0): one content byte, 7 unused bits
    ext(OID.keyUsage, true, tlv(Tag.BIT_STRING, Buffer.from([7, 0x80]))),
    ext(OID.subjectKeyIdentifier, false, octets(ski)),
    ...(s.issuer.subjectKeyId ? [ext(OID.authorityKeyIdentifier, false, seq(tlv(0x80, s.issuer.subjectKeyId)))] : []),
  ];
  const tbs = seq(
    explicit(0, integer(2)),
    tlv(Tag.INTEGER, serial),
    alg,
    s.issuer.subjectDer,
    seq(time(s.notBefore), time(s.notAfter)),
    nameOf(s.request.deviceId),
    s.request.spkiDer,
    explicit(3, seq(...exts)),
  );
  return seq(tbs, alg, bitString(cryptoSign('sha256', tbs, s.issuerKey)));
}

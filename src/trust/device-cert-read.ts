/**
 * Device certificates read the quick way, for the enrolment register a receipts report loads
 * (2,000 certificates per report, twice in the fleet bench). The strict reader (der.ts +
 * x509.ts) builds a node with two Buffer views for every element: ~150 µs a certificate, and
 * loading the register decoded each one twice (parse, then the signed parts): 0.6 s of a
 * report's CPU. Here one pass of index arithmetic finds the signed part, the algorithms, the
 * signature, the issuer, the single common name and the key of a certificate in exactly the
 * form issueDeviceCertificate writes; anything else (another layout, an extension ferry does
 * not know marked critical, a device id a receipts folder could not have) is `undefined`, and
 * the caller reads that certificate the strict way. Nothing read here is trusted until the
 * device CA's signature over the signed part verifies (deviceCertIssuedAsync). Pure.
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { algorithm, oid } from './der-write.js';
import { DEVICE_ID_PATTERN } from './device-cert.js';
import { OID } from './oids.js';
import type { ParsedCert } from './x509.js';

/** The parts of a device certificate the register needs, as views into its DER. */
export interface DeviceCertParts {
  /** The TBSCertificate (what the issuer signed), whole TLV. */
  tbs: Buffer;
  /** The signature algorithm (outer, equal to the one inside the signed part), whole TLV. */
  alg: Buffer;
  /** The signature value (BIT STRING content after its unused-bits byte). */
  sig: Buffer;
  issuerDer: Buffer;
  deviceId: string;
  /** "sha256:<hex>" of the SubjectPublicKeyInfo DER, as receipts name their key. */
  keyId: string;
}

/** One TLV: its tag, where it starts, where its content starts and where it ends. */
interface Tlv {
  tag: number;
  off: number;
  start: number;
  end: number;
}

/** The DER TLV at `off`, inside `[off, limit)`: definite minimal lengths of at most 4 bytes, low tag numbers only. */
function tlvAt(b: Buffer, off: number, limit: number): Tlv | undefined {
  if (off + 2 > limit) return undefined;
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit || b[start] === 0) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80) return undefined;
    start += n;
  }
  return start + len <= limit ? { tag, off, start, end: start + len } : undefined;
}

const SEQ = 0x30;
const V3 = Buffer.from([0x02, 0x01, 0x02]);
const CN = oid('2.5.4.3');
/** The critical extensions the strict reader understands (x509.ts); another one sends the certificate there. */
const KNOWN_CRITICAL = [OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectKeyIdentifier, OID.authorityKeyIdentifier].map(oid);

/** The device id of a Name that is one RDN holding one common name (UTF8String or PrintableString). */
function singleCommonName(b: Buffer, name: Tlv): string | undefined {
  const set = tlvAt(b, name.start, name.end);
  if (set?.tag !== 0x31 || set.end !== name.end) return undefined;
  const atv = tlvAt(b, set.start, set.end);
  if (atv?.tag !== SEQ || atv.end !== set.end) return undefined;
  const type = tlvAt(b, atv.start, atv.end);
  if (type === undefined || !b.subarray(type.off, type.end).equals(CN)) return undefined;
  const value = tlvAt(b, type.end, atv.end);
  if (value === undefined || value.end !== atv.end || (value.tag !== 0x0c && value.tag !== 0x13)) return undefined;
  const id = b.toString('utf8', value.start, value.end);
  return DEVICE_ID_PATTERN.test(id) ? id : undefined;
}

/** True when every extension in `[3] { SEQUENCE OF Extension }` (from `off` to `end`) is one the strict reader would accept. */
function extensionsKnown(b: Buffer, off: number, end: number): boolean {
  if (off === end) return true;
  const wrap = tlvAt(b, off, end);
  const list = wrap?.tag === 0xa3 && wrap.end === end ? tlvAt(b, wrap.start, wrap.end) : undefined;
  if (list?.tag !== SEQ || list.end !== end) return false;
  for (let at = list.start; at < list.end; ) {
    const ext = tlvAt(b, at, list.end);
    const id = ext?.tag === SEQ ? tlvAt(b, ext.start, ext.end) : undefined;
    if (ext === undefined || id?.tag !== 0x06) return false;
    const flag = tlvAt(b, id.end, ext.end);
    const critical = flag?.tag === 0x01 && flag.end - flag.start === 1 && b[flag.start] === 0xff;
    if (critical && !KNOWN_CRITICAL.some((k) => k.equals(b.subarray(id.off, id.end)))) return false;
    at = ext.end;
  }
  return true;
}

/** The parts of a device certificate in the layout ferry issues, or undefined (read it the strict way). */
export function readDeviceCertificate(der: Buffer): DeviceCertParts | undefined {
  const cert = tlvAt(der, 0, der.length);
  if (cert?.tag !== SEQ || cert.end !== der.length) return undefined;
  const tbs = tlvAt(der, cert.start, cert.end);
  const alg = tbs?.tag === SEQ ? tlvAt(der, tbs.end, cert.end) : undefined;
  const sig = alg?.tag === SEQ ? tlvAt(der, alg.end, cert.end) : undefined;
  if (tbs === undefined || alg === undefined || sig?.tag !== 0x03 || sig.end !== cert.end || sig.end - sig.start < 2 || der[sig.start] !== 0) return undefined;
  // version [0] v3, serial, signature (= the outer algorithm), issuer, validity, subject, key, then only [3] extensions
  const f: Tlv[] = [];
  let at = tbs.start;
  for (let i = 0; i < 7; i++) {
    const t = tlvAt(der, at, tbs.end);
    if (t === undefined) return undefined;
    f.push(t);
    at = t.end;
  }
  const [version, serial, inner, issuer, validity, subject, spki] = f as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv, Tlv];
  if (version.tag !== 0xa0 || !der.subarray(version.start, version.end).equals(V3) || serial.tag !== 0x02) return undefined;
  const algDer = der.subarray(alg.off, alg.end);
  if (!der.subarray(inner.off, inner.end).equals(algDer) || issuer.tag !== SEQ || validity.tag !== SEQ || subject.tag !== SEQ || spki.tag !== SEQ) return undefined;
  const deviceId = singleCommonName(der, subject);
  if (deviceId === undefined || !extensionsKnown(der, spki.end, tbs.end)) return undefined;
  return {
    tbs: der.subarray(tbs.off, tbs.end),
    alg: algDer,
    sig: der.subarray(sig.start + 1, sig.end),
    issuerDer: der.subarray(issuer.off, issuer.end),
    deviceId,
    keyId: `sha256:${createHash('sha256').update(der.subarray(spki.off, spki.end)).digest('hex')}`,
  };
}

const RSA_SHA256 = algorithm(OID.sha256WithRSA);
const ECDSA_SHA256 = algorithm(OID.ecdsaWithSHA256, true);

/**
 * Whether the device CA `issuer` signed `cert`: the issuer name is the CA's subject and the CA's
 * key verifies the signature over the signed part, synchronously (the check issued-async.ts makes,
 * which X509_verify agrees with). Undefined when this check does not apply (an algorithm other
 * than the two ferry issues with for this key type, or a CA whose keyUsage forbids signing
 * certificates): the caller asks issuedByAsync, which refuses or decides as before.
 */
export function deviceCertIssuedAsync(cert: DeviceCertParts, issuer: ParsedCert): Promise<boolean> | undefined {
  const keyType = issuer.publicKey.asymmetricKeyType;
  if (!((keyType === 'rsa' && cert.alg.equals(RSA_SHA256)) || (keyType === 'ec' && cert.alg.equals(ECDSA_SHA256)))) return undefined;
  if (!issuer.isCA || (issuer.keyUsage !== undefined && !issuer.keyUsage.has('keyCertSign'))) return undefined;
  if (!cert.issuerDer.equals(issuer.subjectDer)) return Promise.resolve(false);
  // synchronous: dispatching a thread-pool job per certificate cost the main thread more CPU than
  // the RSA or P-256 verification itself (measured: 2,000 RSA-3072 checks 156 ms to dispatch, 104 ms to run)
  try {
    return Promise.resolve(cryptoVerify('sha256', cert.tbs, issuer.publicKey, cert.sig));
  } catch {
    return Promise.resolve(false);
  }
}

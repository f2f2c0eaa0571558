/**
 * Offline verification of an update manifest and its detached CMS signature
 * (DESIGN.md section 3). Pure: bytes + trust material + policy + clock in, a
 * VerifiedUpdate or a typed FerryError out. Order matters: size caps, then the
 * signature structure, every SignerInfo's digest and signature, the signers'
 * chains, revocation and the m-of-n count; only then is the manifest JSON parsed,
 * validated and held against the policy. Nothing in the manifest is read before
 * its signature verified.
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { FerryError } from '../errors.js';
import { Caps } from '../oci/types.js';
import { parseStrictJson } from '../util/json.js';
import { buildPath, checkSignerUsage } from './chain.js';
import { type ParsedSignerInfo, parseSignedData } from './cms.js';
import { selectCrls } from './crl-select.js';
import { validateUpdateManifest, parseUtc } from './manifest.js';
import { OID } from './oids.js';
import type { ChainCertificate, TrustMaterial, UpdateManifest, VerifiedSigner, VerifiedUpdate, VerifyPolicy } from './types.js';
import { parseCertificate, type ParsedCert } from './x509.js';

interface Counted {
  leaf: ParsedCert;
  signer: VerifiedSigner;
  signingTime: number;
  /** The earliest notAfter of the validated path (signer, intermediates, cross-certificates, root). */
  pathNotAfter: number;
}

/** Verify `manifestBytes` against `signatureBytes` with `trust` and `policy` at clock `now`. */
export function verifyUpdate(manifestBytes: Uint8Array, signatureBytes: Uint8Array, trust: TrustMaterial, policy: VerifyPolicy, now: Date): VerifiedUpdate {
  const v = verifySignedUpdate(manifestBytes, signatureBytes, trust, policy.requiredSigners ?? 1, now);
  checkUpdatePolicy(v.manifest, policy, v.effectiveTime);
  return v;
}

/**
 * The first half of verifyUpdate: caps, signatures, chains, revocation, the m-of-n
 * count, then the manifest's JSON and schema. No device policy (expiry,
 * compatibility, counters): callers that want to show a signed but inapplicable
 * update call checkUpdatePolicy themselves.
 */
export function verifySignedUpdate(manifestBytes: Uint8Array, signatureBytes: Uint8Array, trust: TrustMaterial, requiredSigners: number, now: Date): VerifiedUpdate {
  capSize(manifestBytes, Caps.updateManifest, 'update manifest', 'FILE_TOO_LARGE');
  capSize(signatureBytes, Caps.signature, 'signature', 'MALFORMED_SIGNATURE');
  const clock = now.getTime();
  const trustedTime = trust.trustedTime ?? 0;
  const effectiveTime = Math.max(clock, trustedTime);
  const anchors = trust.roots.map((r, i) => parseCertificate(r instanceof Uint8Array ? r : r.raw, `trusted root #${i + 1}`, 'TRUST_INVALID'));
  if (anchors.length === 0) throw new FerryError('TRUST_INVALID', 'no trusted root certificates: install the root CA certificate in the trust directory (roots/*.pem)');
  const cross = (trust.crossCerts ?? []).map((c, i) => parseCertificate(c, `cross-certificate #${i + 1}`, 'TRUST_INVALID'));
  const { crls, crlToCache } = selectCrls(trust, anchors, cross);
  const counted = verifySigners(manifestBytes, signatureBytes, anchors, cross, crls, effectiveTime, requiredSigners);
  const manifest = validateUpdateManifest(parseStrictJson(manifestBytes, Caps.updateManifest, 'update manifest'));
  const signingTime = Math.max(...counted.map((c) => c.signingTime));
  return {
    manifest,
    signers: counted.map((c) => c.signer),
    signingTime,
    effectiveTime,
    newTrustedTime: newTrustedTime(clock, trustedTime, counted, parseUtc(manifest.created) ?? 0),
    ...(crlToCache ? { crlToCache } : {}),
  };
}

/**
 * The CRL the device should cache from `trust` (its cached CRL against the stick's
 * candidates), independent of any update: a stick may carry nothing but a CRL. A candidate
 * that is not signed by a trusted root is not cached (verification refuses it separately).
 */
export function revocationToCache(trust: TrustMaterial): Buffer | undefined {
  if (!trust.crlCandidates?.length || trust.roots.length === 0) return undefined;
  try {
    const anchors = trust.roots.map((r, i) => parseCertificate(r instanceof Uint8Array ? r : r.raw, `trusted root #${i + 1}`, 'TRUST_INVALID'));
    const cross = (trust.crossCerts ?? []).map((c, i) => parseCertificate(c, `cross-certificate #${i + 1}`, 'TRUST_INVALID'));
    return selectCrls(trust, anchors, cross).crlToCache;
  } catch (e) {
    if (e instanceof FerryError && (e.code === 'CRL_INVALID' || e.code === 'TRUST_INVALID' || e.code === 'MALFORMED_SIGNATURE')) return undefined;
    throw e;
  }
}

function capSize(b: Uint8Array, cap: number, what: string, code: 'FILE_TOO_LARGE' | 'MALFORMED_SIGNATURE'): void {
  if (b.length > cap) throw new FerryError(code, `${what} is ${b.length} bytes, over the ${cap}-byte cap: the media is damaged or not ferry's`, { details: { size: b.length, cap } });
}

/**
 * The time the device should persist: max(clock, trusted time, signed times), where
 * a signed time (signingTime, manifest `created`) counts only up to the earliest
 * notAfter of the signer's validated path (not just the signer's own: a signer of a
 * rotated root may outlive the cross-certificate and the old root the device
 * trusts). A signer with a clock set to 2099 could otherwise push the device's
 * trusted time past every certificate's validity and brick it; capped, the worst a
 * signed time can do is what the signer's own path already allows.
 */
function newTrustedTime(clock: number, trusted: number, counted: Counted[], created: number): number {
  const cap = Math.min(...counted.map((c) => c.pathNotAfter));
  const signed = counted.map((c) => Math.min(c.signingTime, c.pathNotAfter));
  return Math.max(clock, trusted, ...signed, Math.min(created, cap));
}

function verifySigners(manifest: Uint8Array, sigBytes: Uint8Array, anchors: ParsedCert[], cross: ParsedCert[], crls: ReturnType<typeof selectCrls>['crls'], t: number, required: number): Counted[] {
  const sd = parseSignedData(sigBytes);
  if (sd.eContentType !== OID.data) throw new FerryError('SIGNATURE_INVALID', 'the signature is not over plain data (eContentType is not id-data): re-sign with ferry');
  const otherDigest = sd.digestAlgorithmOids.find((o) => o !== OID.sha256);
  if (otherDigest) throw new FerryError('SIGNATURE_INVALID', `the signature lists digest algorithm ${otherDigest}; ferry accepts SHA-256 only: re-sign with ferry`);
  const embedded = sd.certificates.map((c, i) => parseCertificate(c, `embedded certificate #${i + 1}`));
  const digest = createHash('sha256').update(manifest).digest();
  const counted: Counted[] = [];
  const failures: FerryError[] = [];
  for (const si of sd.signerInfos) {
    const leaf = checkSignerInfo(si, embedded, digest);
    try {
      checkSignerUsage(leaf);
      const path = buildPath(leaf, [...embedded, ...cross], anchors, t, crls);
      if (counted.some((c) => c.leaf.keyId === leaf.keyId || c.leaf.subject === leaf.subject)) continue;
      const signer: VerifiedSigner = {
        subject: leaf.subject,
        issuer: leaf.issuer,
        serial: leaf.serialHex,
        notBefore: leaf.notBefore.toISOString(),
        notAfter: leaf.notAfter.toISOString(),
        fingerprint: leaf.fingerprint,
        signingTime: si.signingTime.toISOString(),
        anchor: path.anchor.subject,
        chain: path.certs.map(chainEntry),
      };
      counted.push({ leaf, signer, signingTime: si.signingTime.getTime(), pathNotAfter: Math.min(...path.certs.map((c) => c.notAfter.getTime())) });
    } catch (e) {
      if (!(e instanceof FerryError)) throw e;
      failures.push(e);
    }
  }
  if (counted.length >= required) return counted;
  if (counted.length === 0 && failures[0]) throw failures[0];
  const why = failures.map((f) => `${f.code}: ${f.message}`).join('; ');
  throw new FerryError('NOT_ENOUGH_SIGNERS', `the update has ${counted.length} distinct trusted signer(s), the device requires ${required}${why ? ` (${why})` : ''}: have further signers add their signature with ferry sign`, {
    details: { counted: counted.length, required },
  });
}

/** The cryptographic checks of one SignerInfo; any failure is fatal (evidence of tampering). */
function checkSignerInfo(si: ParsedSignerInfo, embedded: ParsedCert[], digest: Buffer): ParsedCert {
  if (si.digestAlgorithm !== OID.sha256) throw new FerryError('SIGNATURE_INVALID', `the signature uses digest ${si.digestAlgorithm}; ferry accepts SHA-256 only: re-sign with ferry`);
  if (si.contentType !== OID.data) throw new FerryError('SIGNATURE_INVALID', 'the signed contentType attribute is not id-data: this signature is not for an update manifest');
  if (!si.messageDigest.equals(digest)) {
    throw new FerryError('SIGNATURE_INVALID', 'the update manifest does not match its signature (SHA-256 differs from messageDigest): it was altered after signing; re-copy the stick from headquarters');
  }
  const leaf = embedded.find((c) => (si.sid.kind === 'issuerSerial' ? c.serialHex === si.sid.serialHex && c.issuerDer.equals(si.sid.issuerDer) : c.subjectKeyId?.equals(si.sid.keyId)));
  if (!leaf) throw new FerryError('MALFORMED_SIGNATURE', "the signer's certificate is not embedded in the signature: re-sign with ferry, which embeds the chain");
  const keyType = leaf.publicKey.asymmetricKeyType;
  const algOk = keyType === 'rsa' ? si.signatureAlgorithm === OID.rsaEncryption || si.signatureAlgorithm === OID.sha256WithRSA : keyType === 'ec' && si.signatureAlgorithm === OID.ecdsaWithSHA256;
  if (!algOk) throw new FerryError('SIGNATURE_INVALID', `signature algorithm ${si.signatureAlgorithm} does not fit the ${keyType} key of "${leaf.subject}"`);
  let ok = false;
  try {
    ok = cryptoVerify('sha256', si.signedAttrsDer, leaf.publicKey, si.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new FerryError('SIGNATURE_INVALID', `the signature by "${leaf.subject}" does not verify: the signature file was altered or belongs to another manifest; re-copy the stick`);
  return leaf;
}

/** `rec[key]` when it is rec's own: a signed target name may be "constructor", and Object.prototype's is no counter. */
function ownNumber(rec: Record<string, number> | undefined, key: string): number | undefined {
  return rec !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** What the detail views show of one certificate in a validated path. */
function chainEntry(c: ParsedCert): ChainCertificate {
  return { subject: c.subject, issuer: c.issuer, serial: c.serialHex, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), fingerprint: c.fingerprint };
}

/** The device policy for a verified manifest at effective time `t`: expiry, compatibility, anti-rollback, requirements, rollout. */
export function checkUpdatePolicy(m: UpdateManifest, policy: VerifyPolicy, t: number): void {
  const at = new Date(t).toISOString();
  if (t > parseUtc(m.expires)!) throw new FerryError('MANIFEST_EXPIRED', `update ${m.id} expired on ${m.expires} (checked at ${at}): ask headquarters for a fresh export`, { details: { expires: m.expires } });
  if (policy.compatible !== undefined && !m.target.compatible.includes(policy.compatible)) {
    throw new FerryError('INCOMPATIBLE_DEVICE', `update ${m.id} is for ${m.target.compatible.join(', ')}, not for this device (${policy.compatible}): use the stick for the right device model`, {
      details: { compatible: m.target.compatible, device: policy.compatible },
    });
  }
  const floor = ownNumber(policy.counterFloor, m.target.name);
  if (floor !== undefined && m.target.counter < floor) {
    const had = policy.floorVersion?.[m.target.name];
    const than = had !== undefined ? `version ${had}` : 'a release';
    throw new FerryError('DOWNGRADE_REFUSED', `update ${m.id} (version ${m.target.version}) is older than ${than} this device already ran: downgrades are refused; bring a newer release`, { details: { counter: m.target.counter, floor } });
  }
  if (floor !== undefined && m.target.counter === floor && !policy.allowSameVersion) {
    throw new FerryError('ALREADY_INSTALLED', `update ${m.id} (version ${m.target.version}) is already installed: nothing to do (a device whose policy sets allowSameVersion may reinstall it)`, { details: { counter: floor } });
  }
  const min = m.target.requires?.minCounter;
  const installed = ownNumber(policy.installedCounter, m.target.name);
  if (min !== undefined && installed !== undefined && installed < min) {
    throw new FerryError('REQUIREMENT_NOT_MET', `update ${m.id} (version ${m.target.version}) needs a newer release installed than this device has: install the intermediate release first`, { details: { minCounter: min, installedCounter: installed } });
  }
  const notBefore = m.rollout?.notBefore;
  if (notBefore !== undefined && !policy.ignoreRollout && t < parseUtc(notBefore)!) {
    throw new FerryError('NOT_YET_ROLLED_OUT', `update ${m.id} may be installed from ${notBefore} (now ${at}): wait, or ask headquarters`);
  }
}

/**
 * The device's view of a stick (a folder holding FERRY/, or an archive written by
 * `ferry archive`, read in place: see media/source.ts): every update verified by the trust area's
 * verifyMediaUpdates (signature, chain, revocation, expiry, the device policy,
 * and the signed image descriptor against FERRY/oci/index.json), turned into the
 * planner's candidates. Trust material comes from the trust directory plus the
 * device state (cached CRL, trusted time), so a rolled-back clock or an older CRL
 * on the stick never weakens what the device already knows.
 */
import { verifyMediaUpdates } from '../media/verify-updates.js';
import { loadTrustMaterial } from '../trust/load.js';
import { revocationToCache } from '../trust/verify.js';
import type { ErrorCode } from '../errors.js';
import type { UpdateManifest } from '../trust/types.js';
import type { MediaVerifyRequest, MediaVerifyResult } from './context.js';
import { releaseVersion, type UpdateCandidate } from './plan.js';
import { type Why, why } from './why.js';

/** A certificate refusal's reason as data, from the verifier's details (subject and the instant that decided). */
export function certWhy(code: ErrorCode | undefined, details: Record<string, unknown> | undefined): Why | undefined {
  const subject = details?.subject;
  if (typeof subject !== 'string') return undefined;
  const at = (k: string): string | undefined => (typeof details?.[k] === 'string' ? (details[k] as string) : undefined);
  if (code === 'CERT_EXPIRED') return why('certExpired', { subject, at: at('notAfter') });
  if (code === 'CERT_NOT_YET_VALID') return why('certNotYetValid', { subject, at: at('notBefore') });
  if (code === 'CERT_REVOKED') return why('certRevoked', { subject, at: at('revokedAt') });
  return undefined;
}

/**
 * The device policy's refusal of a signed manifest (trust/verify.ts checkUpdatePolicy) as
 * data, for a UI in another language: the code says which rule, the signed manifest and the
 * device state give the values. Other signature and chain refusals keep the code alone.
 */
export function policyWhy(code: ErrorCode | undefined, m: UpdateManifest | undefined, req: MediaVerifyRequest, floorVersion: Record<string, string>): Why | undefined {
  if (m === undefined) return undefined;
  const v = m.target.version;
  switch (code) {
    case 'MANIFEST_EXPIRED':
      return why('expired', { id: m.id, at: m.expires });
    case 'INCOMPATIBLE_DEVICE':
      return why('incompatible', { builtFor: m.target.compatible.join(', '), device: req.compatible });
    case 'DOWNGRADE_REFUSED':
      return why('olderThanFloor', { v, had: Object.hasOwn(floorVersion, m.target.name) ? floorVersion[m.target.name] : undefined });
    case 'ALREADY_INSTALLED':
      return why('alreadyInstalled', { v });
    case 'REQUIREMENT_NOT_MET':
      return why('needsIntermediate', { v, running: req.state.slots[req.booted]?.version });
    case 'NOT_YET_ROLLED_OUT':
      return m.rollout?.notBefore === undefined ? undefined : why('notYetRolledOut', { at: m.rollout.notBefore });
    default:
      return undefined;
  }
}

/** Verify every update on the stick for this device. */
export async function verifyMediaForDevice(req: MediaVerifyRequest): Promise<MediaVerifyResult> {
  const { state } = req;
  const trustedTime = state.trustedTime === undefined ? undefined : Date.parse(state.trustedTime);
  const trust = await loadTrustMaterial(req.trustDir, {
    ...(state.crlPem !== undefined ? { cachedCrlPem: state.crlPem } : {}),
    ...(trustedTime !== undefined ? { trustedTime } : {}),
  });
  // The running release is what `requires.minCounter` is held against.
  const running = state.slots[req.booted];
  const installedCounter: Record<string, number> = {};
  if (running?.target !== undefined && running.counter !== undefined) installedCounter[running.target] = running.counter;
  const floorVersion: Record<string, string> = {};
  for (const [name, floor] of Object.entries(state.counterFloor)) {
    const v = releaseVersion(state, name, floor);
    if (v !== undefined) floorVersion[name] = v;
  }
  let crlToCache: Uint8Array | undefined;
  const results = await verifyMediaUpdates(
    req.mediaRoot,
    trust,
    { requiredSigners: req.requiredSigners, compatible: req.compatible, counterFloor: state.counterFloor, floorVersion, allowSameVersion: req.allowSameVersion, installedCounter },
    req.clock,
    { onTrust: (merged) => (crlToCache = revocationToCache(merged)) },
  );
  const candidates: UpdateCandidate[] = [];
  let newTrustedTime: number | undefined;
  for (const r of results) {
    if (r.ok && r.manifest && r.verified) {
      candidates.push({ id: r.id, manifest: r.manifest, signers: (r.signers ?? []).map((s) => s.subject), signerDetails: r.signers ?? [] });
      newTrustedTime = Math.max(newTrustedTime ?? 0, r.verified.newTrustedTime);
    } else {
      // A refusal after the signature verified (expired, wrong device, ...) still says who signed it.
      const signers = (r.signers ?? []).map((s) => s.subject);
      const w = certWhy(r.code, r.details) ?? policyWhy(r.code, r.manifest, req, floorVersion);
      const refusal = { code: r.code ?? 'MANIFEST_INVALID', message: r.message ?? 'refused', ...(w ? { why: w } : {}) };
      candidates.push({ id: r.id, ...(r.manifest ? { manifest: r.manifest } : {}), ...(signers.length > 0 ? { signers, signerDetails: r.signers! } : {}), refusal });
    }
  }
  return { candidates, ...(newTrustedTime !== undefined ? { newTrustedTime } : {}), ...(crlToCache ? { crlToCache } : {}) };
}

/**
 * Verifying every update on a stick (I/O shell around the pure verifier): for each
 * `FERRY/updates/<id>.json`, the signature and policy (trust/verify.ts), then the
 * image it pins: the manifest descriptor in FERRY/oci/index.json must equal the
 * signed one, and with `checkBlobs` every blob (manifest, config, layers) is
 * streamed and checked against its digest. Nothing in the image is looked at before
 * the update manifest's signature verified, and no blob is trusted before its digest.
 */
import { type ErrorCode, FerryError, toFerryError } from '../errors.js';
import { OciLayout } from '../oci/layout.js';
import type { Descriptor } from '../oci/types.js';
import { type ProgressFn, noProgress } from '../progress.js';
import type { TrustMaterial, UpdateManifest, VerifiedSigner, VerifiedUpdate, VerifyPolicy } from '../trust/types.js';
import { checkUpdatePolicy, verifySignedUpdate } from '../trust/verify.js';
import { isHostileMedia } from '../util/fsx.js';
import { openMediaSource } from './source.js';
import { listMediaUpdates } from './updates.js';

/** The verdict on one update of the stick. */
export interface MediaUpdateResult {
  id: string;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
  /** The refusal's values (FerryError details: the certificate's subject and dates, ...), for a caller's own words. */
  details?: Record<string, unknown>;
  /** Present once the signature verified (also when a later check failed). */
  manifest?: UpdateManifest;
  signers?: VerifiedSigner[];
  /** RFC 3339: newest signingTime of the counted signers. */
  signedAt?: string;
  expires?: string;
  /** The full verdict (trusted time to persist, CRL to cache) when ok. */
  verified?: VerifiedUpdate;
  /** Blobs and bytes streamed and digest-checked (checkBlobs). */
  blobsChecked?: number;
  bytesChecked?: number;
}

/** Options of verifyMediaUpdates. */
export interface VerifyMediaOptions {
  /** Stream every blob of each verified image through its digest check. */
  checkBlobs?: boolean;
  progress?: ProgressFn;
  /** Sees the trust material in force (the caller's plus the stick's CRL and cross-certificates), e.g. to cache a CRL. */
  onTrust?: (merged: TrustMaterial) => void;
}

/**
 * Verify every update on the media at `mediaRoot` (a folder holding FERRY/, or an archive
 * written by ferry archive, read in place); one result per update, never throws for a bad update.
 */
export async function verifyMediaUpdates(mediaRoot: string, trust: TrustMaterial, policy: VerifyPolicy, now: Date, opts: VerifyMediaOptions = {}): Promise<MediaUpdateResult[]> {
  const source = await openMediaSource(mediaRoot);
  const media = await listMediaUpdates(source);
  const merged: TrustMaterial = {
    ...trust,
    crossCerts: [...(trust.crossCerts ?? []), ...media.crossCerts],
    crlCandidates: [...(trust.crlCandidates ?? []), ...media.crlCandidates],
  };
  opts.onTrust?.(merged);
  const results: MediaUpdateResult[] = [];
  let layout: OciLayout | FerryError | undefined;
  for (const u of media.updates) {
    if (u.problem || !u.manifestBytes || !u.signatureBytes) {
      results.push(failed(u.id, u.problem ?? new FerryError('SIGNATURE_MISSING', `update ${u.id} is incomplete`)));
      continue;
    }
    let v: VerifiedUpdate;
    try {
      v = verifySignedUpdate(u.manifestBytes, u.signatureBytes, merged, policy.requiredSigners ?? 1, now);
    } catch (e) {
      results.push(failed(u.id, toFerryError(e)));
      continue;
    }
    // From here the manifest is signed: a refusal still shows what it is and who signed it.
    const base: MediaUpdateResult = { id: u.id, ok: true, manifest: v.manifest, signers: v.signers, signedAt: new Date(v.signingTime).toISOString(), expires: v.manifest.expires };
    try {
      if (v.manifest.id !== u.id) throw new FerryError('MANIFEST_INVALID', `${u.id}.json holds the signed update ${v.manifest.id}: a renamed file is refused; re-copy the stick`);
      checkUpdatePolicy(v.manifest, policy, v.effectiveTime);
    } catch (e) {
      results.push({ ...base, ...failed(u.id, toFerryError(e)) });
      continue;
    }
    layout ??= await source.openLayout().catch((e: unknown) => toFerryError(e));
    try {
      if (layout instanceof FerryError) throw layout;
      const checked = await checkImage(layout, v.manifest, opts);
      results.push({ ...base, verified: v, ...checked });
    } catch (e) {
      // a link or special file in the layout refuses the whole stick, not this update only
      if (isHostileMedia(e)) throw e;
      results.push({ ...base, ...failed(u.id, toFerryError(e)) });
    }
  }
  return results;
}

function failed(id: string, e: FerryError): MediaUpdateResult {
  return { id, ok: false, code: e.code, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}) };
}

/** The signed descriptor must be the one index.json names; then (checkBlobs) stream every blob. */
async function checkImage(layout: OciLayout, m: UpdateManifest, opts: VerifyMediaOptions): Promise<Pick<MediaUpdateResult, 'blobsChecked' | 'bytesChecked'>> {
  const signed = m.image.manifest;
  let listed: Descriptor;
  try {
    listed = await layout.findRef(m.image.ref);
  } catch (e) {
    const fe = toFerryError(e);
    if (fe.code !== 'IMAGE_NOT_FOUND') throw fe;
    throw new FerryError('IMAGE_NOT_FOUND', `update ${m.id} is signed but its image ${m.image.ref} is not in FERRY/oci: the stick is incomplete; re-copy it at headquarters`);
  }
  if (listed.digest !== signed.digest || listed.size !== signed.size || listed.mediaType !== signed.mediaType) {
    throw new FerryError('DIGEST_MISMATCH', `image ${m.image.ref} in FERRY/oci/index.json is ${listed.digest} (${listed.size} bytes) but the signed update pins ${signed.digest} (${signed.size} bytes): the image was replaced; re-copy the stick`, {
      details: { listed: listed.digest, signed: signed.digest },
    });
  }
  if (!(await layout.hasBlob(signed.digest))) {
    throw new FerryError('BLOB_MISSING', `image manifest ${signed.digest} of ${m.id} is missing from FERRY/oci: the stick is incomplete; re-copy it at headquarters`);
  }
  if (!opts.checkBlobs) return {};
  // resolveImage reads manifest and config through digest checks before trusting them.
  const image = await layout.resolveImage(signed, m.image.platform, m.image.ref);
  const progress = opts.progress ?? noProgress;
  const blobs = [image.manifestDescriptor, image.configDescriptor, ...image.manifest.layers];
  const total = blobs.reduce((a, b) => a + b.size, 0);
  let done = 0;
  for (const b of blobs) {
    progress({ step: `verify ${m.id}`, bytesDone: done, bytesTotal: total, detail: b.digest });
    done += await layout.verifyBlob(b, `blob ${b.digest} of ${m.id}`);
  }
  progress({ step: `verify ${m.id}`, bytesDone: done, bytesTotal: total });
  return { blobsChecked: blobs.length, bytesChecked: done };
}

/** One human line per result, for `ferry verify --trust` and logs. */
export function formatUpdateResult(r: MediaUpdateResult): string {
  if (!r.ok) return `refused ${r.id}: error[${r.code}]: ${r.message}`;
  const who = (r.signers ?? []).map((s) => s.subject).join(' + ');
  const blobs = r.blobsChecked !== undefined ? `, ${r.blobsChecked} blobs (${r.bytesChecked} bytes) verified` : '';
  return `ok ${r.id}: signed by ${who} at ${r.signedAt}, expires ${r.expires}${blobs}`;
}

/** The first refusal as a FerryError (its exitCode is what a CLI should return), or undefined when all are ok. */
export function firstRefusal(results: MediaUpdateResult[]): FerryError | undefined {
  const bad = results.find((r) => !r.ok);
  return bad ? new FerryError(bad.code ?? 'INTERNAL', `${bad.id}: ${bad.message ?? 'refused'}`) : undefined;
}

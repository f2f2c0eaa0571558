/**
 * What `ferry verify` must say besides "ok": checks it skipped, signatures it did not
 * count, images nobody signed, and signature or manifest files without their partner
 * (an interrupted or failed signing). Nothing passes silently.
 */
import { Annotation } from '../oci/types.js';
import type { MediaUpdateResult } from './verify-updates.js';
import { listMediaUpdates } from './updates.js';
import { type MediaSourceOptions, openMediaSource } from './source.js';
import { UPDATE_ID_RE } from './updates.js';

/** A finding of verify that is not a blob problem. `error` findings fail the run. */
export interface VerifyNotice {
  level: 'error' | 'notice';
  kind: 'orphan-signature' | 'signatures-not-checked' | 'signature-not-counted' | 'unsigned-image';
  message: string;
  id?: string;
}

/** Orphans (`<id>.json.p7s` without `<id>.json`) and, without --trust, the signed updates whose signatures were not checked. */
export async function updateFileNotices(mediaRoot: string, trustChecked: boolean, opts: MediaSourceOptions = {}): Promise<VerifyNotice[]> {
  const src = await openMediaSource(mediaRoot, opts);
  const names = await src.list('updates');
  const out: VerifyNotice[] = [];
  for (const n of names.filter((x) => x.endsWith('.json.p7s')).sort()) {
    const id = n.slice(0, -'.json.p7s'.length);
    if (!UPDATE_ID_RE.test(id) || names.includes(`${id}.json`)) continue;
    out.push({ level: 'error', kind: 'orphan-signature', id, message: `FERRY/updates/${n} has no ${id}.json: a signing that did not finish; re-export ${id} with --signer (or delete the file)` });
  }
  const manifests = names.filter((x) => x.endsWith('.json') && UPDATE_ID_RE.test(x.slice(0, -5)));
  if (!trustChecked && manifests.length > 0) {
    out.push({ level: 'notice', kind: 'signatures-not-checked', message: `signatures NOT checked: ${manifests.length} signed update manifest(s) on the media; pass --trust <dir> to check signatures, chains and expiry` });
  }
  return out;
}

/** With --trust: images no update manifest pins, and SignerInfos that were present but not counted (revoked, untrusted, invalid). */
export async function trustNotices(mediaRoot: string, results: MediaUpdateResult[]): Promise<VerifyNotice[]> {
  const src = await openMediaSource(mediaRoot);
  const out: VerifyNotice[] = [];
  const pinned = new Set(results.flatMap((r) => (r.manifest ? [r.manifest.image.ref] : [r.id])));
  const index = await (await src.openLayout()).readIndex();
  for (const d of index.manifests) {
    const ref = d.annotations?.[Annotation.refName] ?? d.digest;
    if (!pinned.has(ref)) out.push({ level: 'notice', kind: 'unsigned-image', id: ref, message: `image ${ref} has no signed update manifest: devices will not install it (sign it with ferry export --signer)` });
  }
  const files = new Map((await listMediaUpdates(src)).updates.map((u) => [u.id, u.signatureBytes]));
  // the CMS parser loads here, with --trust only: a plain verify never needs it
  const { parseSignedData } = await import('../trust/cms.js');
  for (const r of results) {
    const sig = files.get(r.id);
    if (!r.signers || !sig) continue;
    let present: number;
    try {
      present = parseSignedData(sig).signerInfos.length;
    } catch {
      continue;
    }
    const dropped = present - r.signers.length;
    if (dropped > 0) out.push({ level: 'notice', kind: 'signature-not-counted', id: r.id, message: `${r.id}: ${dropped} of ${present} signature(s) not counted (revoked, expired, untrusted or invalid signer); counted: ${r.signers.map((s) => s.subject).join(' + ')}` });
  }
  return out;
}

/** The last moment a device accepts an update: its expiry, or earlier when fewer than `required` signer certificates are still valid. */
export function lastAccepted(r: MediaUpdateResult, required: number): string | undefined {
  if (!r.expires || !r.signers || r.signers.length === 0) return r.expires;
  const ends = r.signers.map((s) => Date.parse(s.notAfter)).sort((a, b) => b - a);
  const chainEnd = ends[Math.min(required, ends.length) - 1]!;
  const expires = Date.parse(r.expires);
  return new Date(Math.min(expires, chainEnd)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Does a signed update on a stick say what the campaign says? Pure: the manifest (already
 * validated) and the campaign image in, the differences out. Used by a build (an update
 * that matches is kept with its signatures: the re-run is idempotent) and by a check.
 */
import { counterFromVersion, parseUtc } from '../../trust/manifest.js';
import type { UpdateManifest } from '../../trust/types.js';
import type { CampaignImage } from './types.js';

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\0') === [...b].sort().join('\0');

/** The expiry the campaign asks for as an instant, or undefined when it is relative (days) or default. */
function absoluteExpiry(expires: string | undefined): number | undefined {
  if (expires === undefined || /^\d{1,5}$/.test(expires)) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(expires) ? parseUtc(`${expires}T00:00:00Z`) : parseUtc(expires);
}

/** Every field where `m` differs from the campaign image (empty: it matches), and whether it is expired at `now`. */
export function updateDifferences(m: UpdateManifest, img: CampaignImage, now: Date): string[] {
  const out: string[] = [];
  const t = m.target;
  if (t.name !== img.target || t.version !== img.version) out.push(`it is ${t.name} ${t.version}`);
  if (!sameSet(t.compatible, img.compatible)) out.push(`compatible is [${t.compatible.join(', ')}], the campaign says [${img.compatible.join(', ')}]`);
  if (!sameSet(t.replaces ?? [], img.replaces)) out.push(`replaces is [${(t.replaces ?? []).join(', ')}], the campaign says [${img.replaces.join(', ')}]`);
  const counter = img.counter ?? counterFromVersion(img.version);
  if (t.counter !== counter) out.push(`counter is ${t.counter}, the campaign says ${counter}`);
  if (t.requires?.minCounter !== img.minCounter) out.push(`requires.minCounter is ${t.requires?.minCounter ?? 'unset'}, the campaign says ${img.minCounter ?? 'unset'}`);
  if (m.rollout?.notBefore !== img.notBefore && parseUtc(m.rollout?.notBefore) !== parseUtc(img.notBefore)) out.push(`rollout.notBefore is ${m.rollout?.notBefore ?? 'unset'}, the campaign says ${img.notBefore ?? 'unset'}`);
  if ((m.notes ?? undefined) !== img.notes) out.push('the release notes differ');
  const expiry = absoluteExpiry(img.expires);
  if (expiry !== undefined && parseUtc(m.expires) !== expiry) out.push(`it expires ${m.expires}, the campaign says ${img.expires}`);
  if (parseUtc(m.expires)! <= now.getTime()) out.push(`it expired on ${m.expires}`);
  if (img.fileIndex && m.image.fileIndex === undefined) out.push('it pins no file index (the campaign asks for fileIndex)');
  if (m.image.chunkIndex === undefined) out.push('it pins no chunk index');
  return out;
}

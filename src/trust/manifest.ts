/**
 * The update manifest (DESIGN.md section 2): the validator that lists every bad
 * field, canonical JSON for signing, and the semver → counter rule. Pure.
 */
import { FILE_INDEX_BLOB_CAP, FILE_INDEX_MEDIA_TYPE, isFileIndexDescriptor } from '../oci/file-index-blob.js';
import { FerryError } from '../errors.js';
import { CHUNK_INDEX_CAP, CHUNK_INDEX_MEDIA_TYPE, isChunkIndexDescriptor } from '../oci/chunk-index.js';
import { isSha256Digest } from '../oci/types.js';
import { UPDATE_SCHEMA, type UpdateManifest } from './types.js';

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** Target names and versions become file names: no separators, no leading dot. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Milliseconds of an RFC 3339 UTC timestamp, or undefined when it is not one. */
export function parseUtc(v: unknown): number | undefined {
  if (typeof v !== 'string' || !RFC3339_UTC.test(v)) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t) || new Date(t).toISOString().slice(0, 19) !== v.slice(0, 19)) return undefined;
  return t;
}

/** Validate a parsed manifest (call only after its signature verified); lists every bad field. */
export function validateUpdateManifest(v: unknown, what = 'update manifest'): UpdateManifest {
  if (!isObject(v)) throw new FerryError('MANIFEST_INVALID', `${what} is not a JSON object`);
  if (v.schema !== UPDATE_SCHEMA) {
    throw new FerryError('UNKNOWN_SCHEMA', `${what} has schema ${JSON.stringify(v.schema)}, this ferry reads "${UPDATE_SCHEMA}": update ferry on the device or re-export with a matching version`);
  }
  const bad: string[] = [];
  const str = (x: unknown, name: string, re?: RegExp): void => {
    if (typeof x !== 'string' || x.length === 0 || (re && !re.test(x))) bad.push(`${name} is missing or invalid`);
  };
  const int = (x: unknown, name: string): void => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) bad.push(`${name} is not a non-negative integer`);
  };
  const created = parseUtc(v.created);
  const expires = parseUtc(v.expires);
  if (created === undefined) bad.push('created is not an RFC 3339 UTC time');
  if (expires === undefined) bad.push('expires is not an RFC 3339 UTC time');
  if (created !== undefined && expires !== undefined && expires <= created) bad.push('expires is not after created');
  const t = isObject(v.target) ? v.target : undefined;
  if (!t) bad.push('target is not an object');
  else {
    str(t.name, 'target.name', NAME_RE);
    str(t.version, 'target.version', NAME_RE);
    int(t.counter, 'target.counter');
    if (!Array.isArray(t.compatible) || t.compatible.length === 0 || t.compatible.some((c) => typeof c !== 'string' || c.length === 0)) bad.push('target.compatible is not a non-empty list of strings');
    if (t.requires !== undefined && (!isObject(t.requires) || (t.requires.minCounter !== undefined && !Number.isSafeInteger(t.requires.minCounter)))) bad.push('target.requires is invalid');
    if (t.replaces !== undefined && (!Array.isArray(t.replaces) || t.replaces.length > 16 || t.replaces.some((r) => typeof r !== 'string' || !NAME_RE.test(r) || r === t.name))) {
      bad.push('target.replaces is not a list of up to 16 other target names');
    }
  }
  const expectedId = t ? `${String(t.name)}-${String(t.version)}` : undefined;
  if (typeof v.id !== 'string' || v.id !== expectedId) bad.push(`id is not "<target.name>-<target.version>"${expectedId ? ` (${expectedId})` : ''}`);
  const img = isObject(v.image) ? v.image : undefined;
  if (!img) bad.push('image is not an object');
  else {
    if (img.ref !== v.id) bad.push('image.ref is not the id');
    const m = isObject(img.manifest) ? img.manifest : undefined;
    if (!m) bad.push('image.manifest is not a descriptor');
    else {
      str(m.mediaType, 'image.manifest.mediaType');
      if (!isSha256Digest(m.digest)) bad.push('image.manifest.digest is not a sha256 digest');
      int(m.size, 'image.manifest.size');
    }
    const p = isObject(img.platform) ? img.platform : undefined;
    if (!p) bad.push('image.platform is not an object');
    else {
      str(p.os, 'image.platform.os');
      str(p.architecture, 'image.platform.architecture');
    }
    int(img.payloadBytes, 'image.payloadBytes');
    if (img.unpackedBytes !== undefined) int(img.unpackedBytes, 'image.unpackedBytes');
    if (img.chunkIndex !== undefined && !isChunkIndexDescriptor(img.chunkIndex)) bad.push(`image.chunkIndex is not a ${CHUNK_INDEX_MEDIA_TYPE} descriptor of at most ${CHUNK_INDEX_CAP} bytes`);
    if (img.fileIndex !== undefined && !isFileIndexDescriptor(img.fileIndex)) bad.push(`image.fileIndex is not a ${FILE_INDEX_MEDIA_TYPE} descriptor of at most ${FILE_INDEX_BLOB_CAP} bytes`);
    if (img.source !== undefined) bad.push(...imageSourceProblems(img.source));
  }
  if (v.notes !== undefined && typeof v.notes !== 'string') bad.push('notes is not a string');
  if (v.rollout !== undefined && (!isObject(v.rollout) || (v.rollout.notBefore !== undefined && parseUtc(v.rollout.notBefore) === undefined))) bad.push('rollout.notBefore is not an RFC 3339 UTC time');
  if (bad.length) {
    throw new FerryError('MANIFEST_INVALID', `${what} is invalid: ${bad.join('; ')}: re-export it with ferry export`, { details: { problems: bad } });
  }
  return v as unknown as UpdateManifest;
}

/** What is wrong with an `image.source` (informational, but signed: it must still be well-formed). */
function imageSourceProblems(v: unknown): string[] {
  if (!isObject(v)) return ['image.source is not an object'];
  const bad: string[] = [];
  if (typeof v.transport !== 'string' || !/^[a-z][a-z-]{0,31}$/.test(v.transport)) bad.push('image.source.transport is missing or invalid');
  for (const k of ['manifest', 'imageId'] as const) if (v[k] !== undefined && !isSha256Digest(v[k])) bad.push(`image.source.${k} is not a sha256 digest`);
  if (typeof v.conversion !== 'string' || v.conversion.length === 0 || v.conversion.length > 256) bad.push('image.source.conversion is not a string of 1-256 characters');
  return bad;
}

/** Canonical JSON: keys sorted at every level, two-space indent, trailing newline. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => [k, sortKeys(v[k])]));
  return v;
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const PRE_TAGS = ['alpha', 'beta', 'rc'] as const;

/**
 * The release counter of a semver version, so counters order as versions do:
 *   counter = major·10^12 + minor·10^8 + patch·10^4 + pre
 * with pre = 9999 for a release and tag·3000 + n for a prerelease alpha.n / beta.n /
 * rc.n (tag 0/1/2, n < 3000), so every prerelease orders below its release. Limits:
 * major ≤ 9006, minor and patch ≤ 9999 (the result stays below
 * Number.MAX_SAFE_INTEGER). Build metadata (+...) is ignored, as semver says.
 * Anything else is refused: pass --counter explicitly.
 */
export function counterFromVersion(version: string): number {
  const m = SEMVER.exec(version);
  const refuse = (why: string): never => {
    throw new FerryError('USAGE', `cannot derive a release counter from version "${version}" (${why}): pass --counter N`);
  };
  if (!m) return refuse('not semver MAJOR.MINOR.PATCH');
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major > 9006 || minor > 9999 || patch > 9999) refuse('major ≤ 9006, minor and patch ≤ 9999');
  let pre = 9999;
  if (m[4] !== undefined) {
    const p = /^(alpha|beta|rc)\.?(0|[1-9]\d*)?$/.exec(m[4]);
    if (!p) return refuse('prereleases must be alpha.N, beta.N or rc.N');
    const n = p[2] === undefined ? 0 : Number(p[2]);
    if (n >= 3000) refuse('prerelease number must be below 3000');
    pre = PRE_TAGS.indexOf(p[1] as (typeof PRE_TAGS)[number]) * 3000 + n;
  }
  return major * 1e12 + minor * 1e8 + patch * 1e4 + pre;
}

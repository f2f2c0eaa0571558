/**
 * The signing seam between export and trust: write FERRY/updates/<target>-<version>.json
 * and its detached CMS signature for an image already in FERRY/oci.
 * The signature is a detached CMS SignedData (trust/cms-build.ts) by the signer in
 * `signerDir` (a file key) or by an injected Signer (HSM, external command).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { OciLayout } from '../oci/layout.js';
import { Caps, type Descriptor, type Platform } from '../oci/types.js';
import { checkSignerUsage, checkValidity } from '../trust/chain.js';
import { parseSignedData } from '../trust/cms.js';
import { appendSignerInfo, createSignedData } from '../trust/cms-build.js';
import { canonicalJson, counterFromVersion, parseUtc, validateUpdateManifest } from '../trust/manifest.js';
import { loadFileSigner } from '../trust/signer.js';
import { type ImageSource, type Signer, UPDATE_SCHEMA, type UpdateManifest } from '../trust/types.js';
import { parseCertificate } from '../trust/x509.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { refName } from './export.js';
import { writeChunkIndex } from './chunk-index-writer.js';
import type { MediaLock } from './lock.js';
import { mediaPaths, openMediaStore } from './store.js';
import { UPDATE_ID_RE } from './updates.js';

const DAY = 86_400_000;

/** What to publish: the image already in FERRY/oci, its target, and who signs. */
export interface PublishRequest {
  /** The media root (the folder that holds FERRY/). */
  mediaRoot: string;
  target: string;
  version: string;
  /** The image manifest descriptor as written into FERRY/oci/index.json. */
  manifest: Descriptor;
  platform: Platform;
  payloadBytes: number;
  /** Sum of the uncompressed layer sizes (ExportResult.unpackedBytes); omitted when unknown. */
  unpackedBytes?: number;
  /**
   * The chunk index blob written by export (ExportResult.chunkIndex). Absent: computed here
   * from the image's layers on the stick (one read), so every update ferry signs pins one.
   * null: pin none (media as an older ferry made them; devices refuse them by default).
   */
  chunkIndex?: Descriptor | null;
  /** The file index blob written by export --file-index (ExportResult.fileIndex), pinned as image.fileIndex. */
  fileIndex?: Descriptor;
  /** Where the image came from when export converted it (ExportResult.source): recorded as image.source. */
  source?: ImageSource;
  /** Earlier target names this target succeeds (a device bound to one of them may switch). */
  replaces?: string[];
  /** Folder with the signer's key.pem and cert.pem (+ chain.pem). */
  signerDir: string;
  compatible: string[];
  /** Release counter; derived from the version when omitted. */
  counter?: number;
  /** An RFC 3339 date or a number of days from now. */
  expires?: string;
  /** Release notes text (already read from --notes FILE). */
  notes?: string;
  /** Clock, injectable for tests. */
  now?: Date;
  /** Passphrase of an encrypted signer key.pem. */
  signerPassphrase?: string;
  /** A Signer to use instead of the file key in signerDir (HSM, external command). */
  signer?: Signer;
  /** Accept an expiry past the end of the signer's chain (warned, with the real last day). */
  allowExpiryPastSigner?: boolean;
  /** The stick's write lock (journal): a failed write removes this run's signature file. */
  lock?: MediaLock;
  /** Write even when a signed manifest for the same image is already there (--replace). */
  replace?: boolean;
  /** Not installed before this RFC 3339 UTC time (signed as rollout.notBefore; a campaign's rollout window). */
  notBefore?: string;
  /** Signed as target.requires.minCounter: the device must have at least this counter installed. */
  minCounter?: number;
  /** Further signers whose SignerInfos go into the same signature (m-of-n in one write; a campaign's signers). */
  extraSigners?: Signer[];
}

/** Where the manifest and signature were written, and the manifest itself. */
export interface PublishResult {
  manifestPath: string;
  signaturePath: string;
  manifest: UpdateManifest;
  /** True when an update manifest for this very image was already there: nothing was written, its signatures were kept. */
  kept: boolean;
  /** The last moment a device accepts this update: the earlier of the manifest's expiry and the signer chain's end (RFC 3339). */
  lastAccepted: string;
  warnings: string[];
}

/** What the checks before any write found: the signer to use, the manifest's expiry and the real last day. */
export interface PublishPlan {
  signer: Signer;
  expires: Date;
  /** The expiry as written into the manifest (RFC 3339). */
  expiresArg: string;
  lastAccepted: Date;
  warnings: string[];
}

/** The last moment the whole signer chain is valid (the earliest notAfter). */
export function chainEnd(signer: Signer): Date {
  const ends = signer.certificateChain.map((der, i) => parseCertificate(der, i === 0 ? 'signer certificate' : 'chain certificate', 'KEY_INVALID').notAfter.getTime());
  return new Date(Math.min(...ends));
}

/**
 * Every check of a publish that needs no image (plan, then act): the manifest fields
 * (target, version, counter, compatible strings, notes size), the expiry (in the future,
 * and not past the signer chain unless allowed), and the signer (code signing, valid now).
 */
export function checkPublishPlan(req: Omit<PublishRequest, 'manifest' | 'platform' | 'payloadBytes' | 'mediaRoot' | 'signerDir'>, signer: Signer, now: Date): PublishPlan {
  usableSigner(signer, now);
  const end = chainEnd(signer);
  const warnings: string[] = [];
  let expiresArg = req.expires;
  // the default (365 days) never outlives the signer: it ends with the chain, and says so
  if (expiresArg === undefined && now.getTime() + 365 * DAY > end.getTime()) {
    expiresArg = isoSeconds(end);
    warnings.push(`the update expires ${expiresArg}, when the signer's certificate chain ends (not in 365 days): renew the signer for a longer-lived update`);
  }
  let m = probeManifest(req, expiresArg, now);
  const bytes = Buffer.from(canonicalJson(m));
  if (bytes.length > Caps.updateManifest) {
    throw new FerryError('USAGE', `the update manifest would be ${bytes.length} bytes, over the ${Caps.updateManifest}-byte cap: shorten the release notes`);
  }
  // "--expires 30" with a 30-day signer overshoots by the seconds between issuing and exporting: end with the chain instead
  if (Date.parse(m.expires) > end.getTime() && Date.parse(m.expires) - end.getTime() <= DAY && !req.allowExpiryPastSigner) {
    m = probeManifest(req, isoSeconds(end), now);
    warnings.push(`the update expires ${m.expires}, when the signer's certificate chain ends (less than a day before the asked expiry)`);
  }
  const expires = new Date(m.expires);
  if (expires > end) {
    const msg = `the update would expire ${m.expires} but the signer's chain ends ${isoSeconds(end)}: devices refuse it (CERT_EXPIRED) from then on`;
    if (!req.allowExpiryPastSigner) throw new FerryError('USAGE', `${msg}; pass --expires ${isoSeconds(end).slice(0, 10)} or earlier, renew the signer, or --allow-expiry-past-signer`, { details: { expires: m.expires, chainEnd: isoSeconds(end) } });
    warnings.push(`WARNING: ${msg}; the real last day of this update is ${isoSeconds(end)}`);
  }
  return { signer, expires, expiresArg: m.expires, lastAccepted: expires < end ? expires : end, warnings };
}

/** The manifest a publish would write, with a placeholder image: every field check runs without the image. */
function probeManifest(req: Omit<PublishRequest, 'manifest' | 'platform' | 'payloadBytes' | 'mediaRoot' | 'signerDir'>, expires: string | undefined, now: Date): UpdateManifest {
  const image = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 1 };
  return buildUpdateManifest({ ...req, ...(expires !== undefined ? { expires } : {}), mediaRoot: '', signerDir: '', manifest: image, platform: { os: 'linux', architecture: 'amd64' }, payloadBytes: 1 }, now);
}

/**
 * Create, sign and atomically write the update manifest and its signature.
 * Order: `<id>.json.p7s` first, `<id>.json` last. A stick must never claim an update
 * whose signature is missing: the manifest is what listing looks for, so a crash
 * between the two writes leaves an orphan .p7s (a failed write removes it; verify reports
 * one as an error), and a .json without .p7s is reported as unsigned/incomplete
 * (media/updates.ts). An update manifest already pinning this very image is kept with
 * its signatures (an identical re-export); otherwise re-publishing
 * the same id replaces both; in the window between the renames the pair mismatches
 * and verification refuses it (fail closed), and a re-run repairs it.
 */
export async function publishUpdate(req: PublishRequest): Promise<PublishResult> {
  const now = req.now ?? new Date();
  const plan = checkPublishPlan(req, req.signer ?? (await loadFileSigner(req.signerDir, req.signerPassphrase)), now);
  if (req.chunkIndex === undefined) req = { ...req, chunkIndex: await chunkIndexFor(req.mediaRoot, req.manifest, req.platform) };
  const manifest = buildUpdateManifest({ ...req, expires: plan.expiresArg }, now);
  const bytes = Buffer.from(canonicalJson(manifest));
  const dir = mediaPaths(req.mediaRoot).updates;
  const manifestPath = path.join(dir, `${manifest.id}.json`);
  const signaturePath = `${manifestPath}.p7s`;
  const base = { manifestPath, signaturePath, lastAccepted: isoSeconds(plan.lastAccepted), warnings: plan.warnings };
  const kept = req.replace ? undefined : await signedForSameImage(manifestPath, req.manifest);
  // one made before chunk indexes existed is signed anew, so devices can verify it while streaming
  const keepsIndexes = kept && (kept.image.chunkIndex !== undefined || manifest.image.chunkIndex === undefined) && (kept.image.fileIndex !== undefined || manifest.image.fileIndex === undefined);
  if (kept && keepsIndexes) return { ...base, manifest: kept, kept: true };
  const signature = await createSignedData(bytes, [plan.signer, ...(req.extraSigners ?? []).map((x) => usableSigner(x, now))], now);
  try {
    await fsp.mkdir(dir, { recursive: true });
    req.lock?.wrote(signaturePath);
    await writeFileAtomic(signaturePath, signature);
    await writeFileAtomic(manifestPath, bytes);
  } catch (e) {
    if (req.lock) await req.lock.rollback();
    else await fsp.rm(signaturePath, { force: true });
    throw toFerryError(e, `cannot write the signed update ${manifestPath}`);
  }
  req.lock?.commit();
  return { ...base, manifest, kept: false };
}

/** The update manifest already on the media when it pins this very image (an identical re-export keeps it and its signatures). */
async function signedForSameImage(manifestPath: string, image: Descriptor): Promise<UpdateManifest | undefined> {
  let m: UpdateManifest;
  try {
    m = validateUpdateManifest(JSON.parse((await readFileCapped(manifestPath, Caps.updateManifest, 'update manifest')).toString('utf8')));
  } catch {
    return undefined; // none, or unreadable: a new one replaces it
  }
  const pinned = m.image.manifest;
  return pinned.digest === image.digest && pinned.size === image.size && (await fsp.access(`${manifestPath}.p7s`).then(() => true, () => false)) ? m : undefined;
}

/** Write (or find) the chunk index of the image `manifest` already on the stick. */
async function chunkIndexFor(mediaRoot: string, manifest: Descriptor, platform: Platform): Promise<Descriptor> {
  const store = await openMediaStore(mediaRoot);
  const layout = await OciLayout.open(store.paths.oci);
  const image = await layout.resolveImage(manifest, platform);
  return writeChunkIndex(store, image.manifest.layers, {});
}

/** Refuse at headquarters what every device would refuse: a signer that is not code-signing, weak, or not valid now. */
function usableSigner(signer: Signer, now: Date): Signer {
  const leaf = parseCertificate(signer.certificateChain[0] ?? Buffer.alloc(0), 'signer certificate', 'KEY_INVALID');
  checkSignerUsage(leaf);
  checkValidity(leaf, now.getTime(), 'signer');
  return signer;
}

/** The manifest object for a request (validated with the verifier's own rules). */
export function buildUpdateManifest(req: PublishRequest, now: Date): UpdateManifest {
  const id = refName(req.target, req.version);
  const counter = req.counter ?? counterFromVersion(req.version);
  if (!Number.isSafeInteger(counter) || counter < 0) throw new FerryError('USAGE', `--counter ${counter} is not a non-negative integer`);
  const expires = expiryFrom(req.expires, now);
  const platform: Platform = { architecture: req.platform.architecture, os: req.platform.os, ...(req.platform.variant ? { variant: req.platform.variant } : {}) };
  const descriptor: Descriptor = { mediaType: req.manifest.mediaType, digest: req.manifest.digest, size: req.manifest.size };
  const m: UpdateManifest = {
    schema: UPDATE_SCHEMA,
    id,
    created: isoSeconds(now),
    expires: isoSeconds(expires),
    target: {
      name: req.target,
      compatible: [...req.compatible],
      version: req.version,
      counter,
      ...(req.replaces?.length ? { replaces: [...req.replaces] } : {}),
      ...(req.minCounter !== undefined ? { requires: { minCounter: req.minCounter } } : {}),
    },
    image: {
      ref: id,
      manifest: descriptor,
      platform,
      payloadBytes: req.payloadBytes,
      ...(req.unpackedBytes !== undefined ? { unpackedBytes: req.unpackedBytes } : {}),
      ...(req.chunkIndex ? { chunkIndex: { mediaType: req.chunkIndex.mediaType, digest: req.chunkIndex.digest, size: req.chunkIndex.size } } : {}),
      ...(req.fileIndex ? { fileIndex: { mediaType: req.fileIndex.mediaType, digest: req.fileIndex.digest, size: req.fileIndex.size } } : {}),
      ...(req.source ? { source: { ...req.source } } : {}),
    },
    ...(req.notes !== undefined ? { notes: req.notes } : {}),
    ...(req.notBefore !== undefined ? { rollout: { notBefore: req.notBefore } } : {}),
  };
  try {
    return validateUpdateManifest(JSON.parse(canonicalJson(m)));
  } catch (e) {
    const fe = e as FerryError;
    throw new FerryError('USAGE', `cannot publish ${id}: ${fe.message}`, { cause: e });
  }
}

/** `expires`: an RFC 3339 time or a number of days from now; default 365 days. */
function expiryFrom(expires: string | undefined, now: Date): Date {
  if (expires === undefined) return new Date(now.getTime() + 365 * DAY);
  let t: number | undefined;
  if (/^\d{1,5}$/.test(expires)) t = now.getTime() + Number(expires) * DAY;
  else if (/^\d{4}-\d{2}-\d{2}$/.test(expires)) t = parseUtc(`${expires}T00:00:00Z`);
  else t = parseUtc(expires);
  if (t === undefined) throw new FerryError('USAGE', `--expires "${expires}" is neither a number of days, a date (2027-01-31) nor an RFC 3339 UTC time (2027-01-31T00:00:00Z)`);
  if (t <= now.getTime()) throw new FerryError('USAGE', `--expires ${expires} is not in the future`);
  return new Date(t);
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Request of addSignature (`ferry sign`). */
export interface AddSignatureRequest {
  mediaRoot: string;
  /** The update id (`<target>-<version>`). */
  id: string;
  signerDir: string;
  signerPassphrase?: string;
  signer?: Signer;
  now?: Date;
}

/**
 * Add a further SignerInfo (m-of-n, e.g. QA after build) to `<id>.json.p7s` without
 * touching the manifest; the signature file is replaced atomically. Before signing, the
 * image the manifest pins must be in FERRY/oci under its ref with that digest, and every
 * one of its blobs intact: a co-signature vouches for what is on the stick.
 */
export async function addSignature(req: AddSignatureRequest): Promise<{ signaturePath: string; signerInfos: number; blobsChecked: number }> {
  if (!UPDATE_ID_RE.test(req.id)) throw new FerryError('USAGE', `--update "${req.id}" is not an update id like kiosk-2.3.1`);
  const manifestPath = path.join(mediaPaths(req.mediaRoot).updates, `${req.id}.json`);
  const signaturePath = `${manifestPath}.p7s`;
  const read = async (file: string, cap: number, what: string): Promise<Buffer> => {
    try {
      return await readFileCapped(file, cap, what);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new FerryError('USAGE', `--media ${req.mediaRoot} is a file, not a folder: sign on the stick (or unarchive the archive first)`, { cause: e });
      if (code !== 'ENOENT') throw toFerryError(e, file);
      throw new FerryError(what === 'signature' ? 'SIGNATURE_MISSING' : 'USAGE', `${file} does not exist: publish the update first (ferry export --signer)`, { cause: e });
    }
  };
  const manifest = await read(manifestPath, Caps.updateManifest, 'update manifest');
  const existing = await read(signaturePath, Caps.signature, 'signature');
  const now = req.now ?? new Date();
  const signer = usableSigner(req.signer ?? (await loadFileSigner(req.signerDir, req.signerPassphrase)), now);
  let parsed: UpdateManifest;
  try {
    parsed = validateUpdateManifest(JSON.parse(manifest.toString('utf8')));
  } catch (e) {
    throw new FerryError('MANIFEST_INVALID', `${manifestPath} is not a valid update manifest: re-export it with ferry export --signer --replace`, { cause: e });
  }
  const blobsChecked = await checkPinnedImage(req.mediaRoot, parsed);
  const updated = await appendSignerInfo(existing, manifest, signer, now);
  await writeFileAtomic(signaturePath, updated);
  return { signaturePath, signerInfos: parseSignedData(updated).signerInfos.length, blobsChecked };
}

/** The pinned image is listed under its ref with the signed digest, and every blob hashes right; returns the blobs checked. */
async function checkPinnedImage(mediaRoot: string, m: UpdateManifest): Promise<number> {
  const layout = await OciLayout.open(mediaPaths(mediaRoot).oci);
  const listed = await layout.findRef(m.image.ref).catch((e: unknown) => {
    throw new FerryError('IMAGE_NOT_FOUND', `update ${m.id} pins image ${m.image.ref}, which is not in FERRY/oci: re-export it before signing`, { cause: e });
  });
  if (listed.digest !== m.image.manifest.digest) {
    throw new FerryError('DIGEST_MISMATCH', `update ${m.id} pins ${m.image.manifest.digest} but FERRY/oci lists ${m.image.ref} as ${listed.digest}: the signed manifest is stale; re-export with --signer --replace instead of signing it`);
  }
  const image = await layout.resolveImage(m.image.manifest, m.image.platform, m.image.ref);
  const blobs = [image.manifestDescriptor, image.configDescriptor, ...image.manifest.layers];
  for (const b of blobs) await layout.verifyBlob(b, `blob ${b.digest} of ${m.image.ref}`);
  return blobs.length;
}

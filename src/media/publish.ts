/**
 * The signing seam between export and trust: write FERRY/updates/<target>-<version>.json
 * and its detached CMS signature for an image already in FERRY/oci.
 * The signature is a detached CMS SignedData (trust/cms-build.ts) by the signer in
 * `signerDir` (a file key) or by an injected Signer (HSM, external command).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { Caps, type Descriptor, type Platform } from '../oci/types.js';
import { checkSignerUsage, checkValidity } from '../trust/chain.js';
import { parseSignedData } from '../trust/cms.js';
import { appendSignerInfo, createSignedData } from '../trust/cms-build.js';
import { canonicalJson, counterFromVersion, parseUtc, validateUpdateManifest } from '../trust/manifest.js';
import { loadFileSigner } from '../trust/signer.js';
import { type Signer, UPDATE_SCHEMA, type UpdateManifest } from '../trust/types.js';
import { parseCertificate } from '../trust/x509.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { refName } from './export.js';
import { OciLayout } from '../oci/layout.js';
import { writeChunkIndex } from './chunk-index-writer.js';
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
}

/** Where the manifest and signature were written, and the manifest itself. */
export interface PublishResult {
  manifestPath: string;
  signaturePath: string;
  manifest: UpdateManifest;
}

/**
 * Create, sign and atomically write the update manifest and its signature.
 * Order: `<id>.json.p7s` first, `<id>.json` last. A stick must never claim an update
 * whose signature is missing: the manifest is what listing looks for, so a crash
 * between the two writes leaves an orphan .p7s that nothing reads, and a .json
 * without .p7s is reported as unsigned/incomplete (media/updates.ts). Re-publishing
 * the same id replaces both; in the window between the renames the pair mismatches
 * and verification refuses it (fail closed), and a re-run repairs it.
 */
export async function publishUpdate(req: PublishRequest): Promise<PublishResult> {
  const now = req.now ?? new Date();
  buildUpdateManifest(req, now); // every option checked before anything is read or written
  const signer = usableSigner(req.signer ?? (await loadFileSigner(req.signerDir, req.signerPassphrase)), now);
  if (req.chunkIndex === undefined) req = { ...req, chunkIndex: await chunkIndexFor(req.mediaRoot, req.manifest, req.platform) };
  const manifest = buildUpdateManifest(req, now);
  const bytes = Buffer.from(canonicalJson(manifest));
  if (bytes.length > Caps.updateManifest) {
    throw new FerryError('USAGE', `the update manifest would be ${bytes.length} bytes, over the ${Caps.updateManifest}-byte cap: shorten the release notes`);
  }
  const signature = await createSignedData(bytes, [signer], now);
  const dir = mediaPaths(req.mediaRoot).updates;
  await fsp.mkdir(dir, { recursive: true });
  const manifestPath = path.join(dir, `${manifest.id}.json`);
  const signaturePath = `${manifestPath}.p7s`;
  await writeFileAtomic(signaturePath, signature);
  await writeFileAtomic(manifestPath, bytes);
  return { manifestPath, signaturePath, manifest };
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
    target: { name: req.target, compatible: [...req.compatible], version: req.version, counter, ...(req.replaces?.length ? { replaces: [...req.replaces] } : {}) },
    image: {
      ref: id,
      manifest: descriptor,
      platform,
      payloadBytes: req.payloadBytes,
      ...(req.unpackedBytes !== undefined ? { unpackedBytes: req.unpackedBytes } : {}),
      ...(req.chunkIndex ? { chunkIndex: { mediaType: req.chunkIndex.mediaType, digest: req.chunkIndex.digest, size: req.chunkIndex.size } } : {}),
    },
    ...(req.notes !== undefined ? { notes: req.notes } : {}),
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
  else t = parseUtc(expires);
  if (t === undefined) throw new FerryError('USAGE', `--expires "${expires}" is neither a number of days nor an RFC 3339 UTC time (2027-01-31T00:00:00Z)`);
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
 * touching the manifest; the signature file is replaced atomically.
 */
export async function addSignature(req: AddSignatureRequest): Promise<{ signaturePath: string; signerInfos: number }> {
  if (!UPDATE_ID_RE.test(req.id)) throw new FerryError('USAGE', `--update "${req.id}" is not an update id like kiosk-2.3.1`);
  const manifestPath = path.join(mediaPaths(req.mediaRoot).updates, `${req.id}.json`);
  const signaturePath = `${manifestPath}.p7s`;
  const read = async (file: string, cap: number, what: string): Promise<Buffer> => {
    try {
      return await readFileCapped(file, cap, what);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new FerryError(what === 'signature' ? 'SIGNATURE_MISSING' : 'USAGE', `${file} does not exist: publish the update first (ferry export --signer)`, { cause: e });
    }
  };
  const manifest = await read(manifestPath, Caps.updateManifest, 'update manifest');
  const existing = await read(signaturePath, Caps.signature, 'signature');
  const now = req.now ?? new Date();
  const signer = usableSigner(req.signer ?? (await loadFileSigner(req.signerDir, req.signerPassphrase)), now);
  const updated = await appendSignerInfo(existing, manifest, signer, now);
  await writeFileAtomic(signaturePath, updated);
  return { signaturePath, signerInfos: parseSignedData(updated).signerInfos.length };
}

/**
 * `ferry campaign build`: every image of a campaign, exported and signed onto every stick,
 * as a script of named steps: check the campaign and load its signers (nothing written on
 * a problem), check and lock every stick, then per image open the source once and run the
 * normal export (media/export.ts) on all sticks side by side, their blobs from one shared
 * read (shared-reads.ts), each followed by its signing (media/publish.ts); last the carried
 * trust files and the campaign record. A stick that fails is rolled back like a failed
 * export, released and dropped; the others go on. Idempotent: what is there and matches
 * the campaign is kept, so a re-run after a crash or a pulled stick finishes the job.
 */
import * as fsp from 'node:fs/promises';
import { FerryError, toFerryError } from '../../errors.js';
import type { ChunkCache } from '../../oci/chunk-cache.js';
import { parseInputName } from '../../oci/input-name.js';
import type { RegistryOptions } from '../../oci/registry/client.js';
import { openImageSource } from '../../oci/source.js';
import { parsePlatform } from '../../oci/types.js';
import { exportImage, type ExportResult, undoExport } from '../export.js';
import { type LockOptions, lockMedia, type MediaLock } from '../lock.js';
import { checkMediaPath } from '../media-path.js';
import { publishUpdate } from '../publish.js';
import { carryTrust } from './carry.js';
import { currentUpdate } from './stick-state.js';
import { sharedSourceFor, SharedReads } from './shared-reads.js';
import { type LoadedSigner, prepareSigning, publishFields } from './signing.js';
import { type Campaign, type CampaignImage, campaignUpdateId } from './types.js';

/** What to build where. */
export interface CampaignBuildRequest {
  campaign: Campaign;
  /** Media roots (mounted sticks or folders); each must exist unless `create`. */
  media: string[];
  create?: boolean;
  chunkCache?: ChunkCache;
  registry?: RegistryOptions;
  lockOptions?: LockOptions;
  /** Told each finished step (for the CLI's lines and --json). */
  onStep?: (step: CampaignStep) => void;
  now?: Date;
}

/** One image on one stick, done. */
export interface CampaignStep {
  media: string;
  update: string;
  /** exported: blobs written; present: the same image was already there. */
  image: 'exported' | 'present';
  /** signed: a new signed update manifest; kept: the one there matched the campaign and its signers. */
  signature: 'signed' | 'kept';
  blobsWritten: number;
  bytesWritten: number;
}

/** One stick's outcome. */
export interface StickOutcome {
  media: string;
  ok: boolean;
  steps: CampaignStep[];
  /** Carried files written (CRL, cross-certificates, campaign record). */
  carried: string[];
  warnings: string[];
  error?: { code: string; message: string };
}

/** The whole build. */
export interface CampaignBuildResult {
  campaign: string;
  sticks: StickOutcome[];
  /** Shared source blob reads started: one per blob any stick needed (with one stick, export reads on its own: 0). */
  sourceReads: number;
}

interface Stick {
  id: number;
  outcome: StickOutcome;
  lock?: MediaLock;
}

/** Build the campaign onto every stick; sticks that fail are reported in the result, not thrown. */
export async function buildCampaign(req: CampaignBuildRequest): Promise<CampaignBuildResult> {
  const c = req.campaign;
  const now = req.now ?? new Date();
  const signers = await prepareSigning(c, now);
  const sticks = await checkSticks(req);
  for (const s of sticks) {
    try {
      s.lock = await lockMedia(s.outcome.media, `campaign build ${c.name}`, req.lockOptions ?? {});
    } catch (e) {
      await dropStick(s, e);
    }
  }
  let sourceReads = 0;
  try {
    for (const img of c.images) {
      const live = sticks.filter((s) => s.outcome.ok);
      if (live.length === 0) break;
      sourceReads += await imageOnSticks(req, img, live, signers, now);
    }
    for (const s of sticks.filter((x) => x.outcome.ok)) {
      await carryTrust(c, s.outcome.media, s.lock!).then(
        (w) => void s.outcome.carried.push(...w),
        (e: unknown) => dropStick(s, e),
      );
    }
  } finally {
    for (const s of sticks) await s.lock?.release().catch(() => undefined);
  }
  return { campaign: c.name, sticks: sticks.map((s) => s.outcome), sourceReads };
}

/** Every --media checked before anything is written: it exists (or may be created), is a folder, and is not listed twice. */
async function checkSticks(req: CampaignBuildRequest): Promise<Stick[]> {
  if (req.media.length === 0) throw new FerryError('USAGE', 'give at least one --media folder (a mounted stick)');
  const seen = new Map<string, string>();
  const sticks: Stick[] = [];
  for (const [id, media] of req.media.entries()) {
    const warnings = await checkMediaPath(media, { create: req.create ?? false });
    const real = await fsp.realpath(media);
    if (seen.has(real)) throw new FerryError('USAGE', `--media ${media} is the same folder as --media ${seen.get(real)}: list each stick once`);
    seen.set(real, media);
    sticks.push({ id, outcome: { media, ok: true, steps: [], carried: [], warnings } });
  }
  return sticks;
}

/** A stick failed: undo its unnamed files (as a failed export does), release it, and report it. */
async function dropStick(s: Stick, e: unknown): Promise<void> {
  const err = toFerryError(e);
  s.outcome.ok = false;
  s.outcome.error = { code: err.code, message: err.message };
  await s.lock?.rollback().catch(() => undefined);
  await s.lock?.release().catch(() => undefined);
}

/** One image onto every live stick from one shared read of its source; returns the source reads started. */
async function imageOnSticks(req: CampaignBuildRequest, img: CampaignImage, live: Stick[], signers: LoadedSigner[], now: Date): Promise<number> {
  const platform = img.platform !== undefined ? parsePlatform(img.platform) : undefined;
  const src = await openImageSource(parseInputName(img.image), { sourceDateEpoch: 0, ...(platform ? { platform } : {}), ...(req.registry ? { registry: req.registry } : {}) }).catch((e: unknown) => {
    throw toFerryError(e, `${campaignUpdateId(img)} (${img.at.file}:${img.at.line})`);
  });
  const reads = new SharedReads(live.map((s) => s.id));
  await Promise.all(
    live.map(async (s) => {
      try {
        const r = await exportImage({
          image: img.image,
          target: img.target,
          version: img.version,
          mediaRoot: s.outcome.media,
          lock: s.lock!,
          // one stick: the source as is (its file-range fast path); several: one shared read
          source: live.length === 1 ? src : sharedSourceFor(src, reads, s.id),
          chunkIndex: true,
          fileIndex: img.fileIndex,
          compress: img.compress,
          checkLayers: img.checkLayers,
          alsoWrites: [{ what: 'update manifest', size: 2 * 8192 }, { what: 'signature', size: 2 * 16384 * signers.length }],
          ...(req.chunkCache ? { chunkCache: req.chunkCache } : {}),
          ...(platform ? { platform } : {}),
        });
        reads.done(s.id);
        s.outcome.warnings.push(...r.warnings);
        const update = await signOnStick(s, img, r, signers, now);
        const step: CampaignStep = { media: s.outcome.media, update: campaignUpdateId(img), image: r.unchanged ? 'present' : 'exported', signature: update, blobsWritten: r.blobsWritten, bytesWritten: r.bytesWritten };
        s.outcome.steps.push(step);
        req.onStep?.(step);
      } catch (e) {
        reads.done(s.id);
        await dropStick(s, toFerryError(e, `${s.outcome.media}: ${campaignUpdateId(img)}`));
      }
    }),
  );
  return reads.reads;
}

/** Keep the signed update when it matches the campaign and carries each signer's signature; else sign it anew (all signers, one write). */
async function signOnStick(s: Stick, img: CampaignImage, r: ExportResult, signers: LoadedSigner[], now: Date): Promise<'signed' | 'kept'> {
  const current = await currentUpdate(s.outcome.media, campaignUpdateId(img), r.manifest, img, signers, now);
  if (current.problems.length === 0) return 'kept';
  try {
    const [first, ...rest] = signers;
    const p = await publishUpdate({
      ...publishFields(img),
      mediaRoot: s.outcome.media,
      manifest: r.manifest,
      platform: r.platform,
      payloadBytes: r.payloadBytes,
      ...(r.unpackedBytes !== undefined ? { unpackedBytes: r.unpackedBytes } : {}),
      ...(r.chunkIndex ? { chunkIndex: r.chunkIndex } : {}),
      ...(r.fileIndex ? { fileIndex: r.fileIndex } : {}),
      ...(r.source ? { source: r.source } : {}),
      signerDir: first!.dir,
      signer: first!.signer,
      extraSigners: rest.map((x) => x.signer),
      lock: s.lock!,
      replace: true,
      now,
    });
    s.outcome.warnings.push(...p.warnings);
    return 'signed';
  } catch (e) {
    await undoExport(s.outcome.media, r, s.lock!).catch(() => undefined);
    throw e;
  }
}

/**
 * Looking at a stick from the device without changing anything: every update verified
 * (or refused, with the reason), the planner's verdict for each, and a byte-by-byte
 * digest check of one update's image. `ferry device` and the terminal UI both read a
 * stick through these, so they can never disagree about what is installable.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { openMediaLayout, openMediaSource } from '../media/source.js';
import { listMediaUpdates } from '../media/updates.js';
import { isRegistryMedia } from '../media/registry-media.js';
import type { OciLayout } from '../oci/layout.js';
import { Caps } from '../oci/types.js';
import type { ProgressFn } from '../progress.js';
import { validateUpdateManifest } from '../trust/manifest.js';
import type { UpdateManifest } from '../trust/types.js';
import { parseStrictJson } from '../util/json.js';
import { type DeviceContext, type DeviceDeps, type DeviceOptions, type MediaVerifyResult, mediaVerifyRequest, openDevice, planInputs } from './context.js';
import { type PlanInputs, type PlanResult, planInstall, type UpdateCandidate } from './plan.js';
import { keepRevocationNow } from './revocation.js';
import { type DeviceState, effectiveNow, loadState } from './state.js';
import { otherSlot } from './types.js';
import type { Why } from './why.js';

/** The media must be a folder holding FERRY/ or an archive written by ferry archive (indexed once, read in place). */
export async function requireFerryMedia(root: string): Promise<void> {
  if (isRegistryMedia(root)) {
    await openMediaSource(root);
    return;
  }
  const st = await fsp.stat(root).catch(() => undefined);
  if (st?.isFile()) {
    await openMediaSource(root);
    return;
  }
  const ferry = await fsp.stat(path.join(root, 'FERRY')).catch(() => undefined);
  if (!ferry?.isDirectory()) throw new FerryError('MEDIA_NOT_FOUND', `${root} has no FERRY folder: plug in a stick made by ferry export`);
}

/** A stick read from the device's point of view. */
export interface MediaSurvey {
  dev: DeviceContext;
  state: DeviceState;
  verified: MediaVerifyResult;
  inputs: Omit<PlanInputs, 'requestedId'>;
  /** e.g. "dir /var/lib/slots/b": the slot an install would write. */
  describeTarget: string;
}

/** Open the device, load its state and verify every update on the stick (read fresh: the stick may have changed). */
export async function surveyMedia(opts: DeviceOptions, deps: DeviceDeps, mediaRoot: string, clock: Date): Promise<MediaSurvey> {
  await requireFerryMedia(mediaRoot);
  const dev = await openDevice(opts, deps);
  const state = await loadState(dev.config.stateDir);
  const verified = await deps.verifyMedia(mediaVerifyRequest(dev, state, mediaRoot, clock));
  await keepRevocationNow(dev, verified); // a CRL on this stick counts from now on, even if nothing is installed
  const inputs = await planInputs(dev, state, verified, clock);
  return { dev, state, verified, inputs, describeTarget: dev.slots[otherSlot(dev.booted)].describe() };
}

/** The planner's verdict for one candidate alone: installable, or the reason it is not. */
export function verdictFor(c: UpdateCandidate, inputs: Omit<PlanInputs, 'requestedId'>): { code: string; message: string; why?: Why } | undefined {
  if (c.refusal) return c.refusal;
  const v = planInstall({ ...inputs, candidates: [c], requestedId: c.id });
  if (v.kind === 'install') return undefined;
  const mine = v.skipped.find((s) => s.id === c.id);
  return mine ? { code: mine.code, message: mine.message, ...(mine.why ? { why: mine.why } : {}) } : { code: v.code, message: v.message, why: v.why };
}

/** Plan an install from the stick (the newest applicable update, or `updateId`), without writing anything. */
export async function planMedia(opts: DeviceOptions, deps: DeviceDeps, mediaRoot: string, clock: Date, updateId?: string): Promise<{ survey: MediaSurvey; result: PlanResult }> {
  const survey = await surveyMedia(opts, deps, mediaRoot, clock);
  return { survey, result: planInstall({ ...survey.inputs, ...(updateId !== undefined ? { requestedId: updateId } : {}) }) };
}

/** A verified update by id (signature, chain and policy only: no slot I/O); throws the refusal. */
export async function verifiedCandidate(opts: DeviceOptions, deps: DeviceDeps, mediaRoot: string, id: string, clock: Date): Promise<{ candidate: UpdateCandidate; manifest: UpdateManifest; checkedAt: Date }> {
  await requireFerryMedia(mediaRoot);
  const dev = await openDevice(opts, deps);
  const state = await loadState(dev.config.stateDir);
  const verified = await deps.verifyMedia(mediaVerifyRequest(dev, state, mediaRoot, clock));
  const c = verified.candidates.find((x) => x.id === id);
  if (!c) throw new FerryError('IMAGE_NOT_FOUND', `update ${id} is no longer on the stick: was it swapped?`);
  if (c.refusal || !c.manifest) throw new FerryError(c.refusal?.code ?? 'MANIFEST_INVALID', c.refusal?.message ?? 'not verified');
  return { candidate: c, manifest: c.manifest, checkedAt: effectiveNow(state, clock) };
}

/** Stream every blob of a verified image through its digest check, reporting bytes as they pass. */
async function streamBlobs(layout: OciLayout, blobs: Array<{ digest: string; size: number; mediaType: string }>, label: string, progress: ProgressFn, signal: AbortSignal): Promise<void> {
  const total = blobs.reduce((n, d) => n + d.size, 0);
  let done = 0;
  for (const [i, d] of blobs.entries()) {
    const detail = `${i === 0 ? 'config' : `layer ${i} of ${blobs.length - 1}`} ${d.digest.slice(0, 19)}…`;
    progress({ step: 'verify', bytesDone: done, bytesTotal: total, detail });
    const stream = layout.openBlob(d, `blob ${d.digest} of ${label}`);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (signal.aborted) {
        stream.destroy();
        throw new FerryError('CANCELLED', 'verification stopped; nothing was changed');
      }
      done += chunk.length;
      progress({ step: 'verify', bytesDone: done, bytesTotal: total, detail });
    }
  }
}

/** Read and hash every blob of a verified update's image (the whole image, before any write). */
export async function verifyImageBytes(manifest: UpdateManifest, mediaRoot: string, progress: ProgressFn, signal: AbortSignal): Promise<void> {
  const layout = await openMediaLayout(mediaRoot);
  const image = await layout.resolveImage(manifest.image.manifest, manifest.image.platform, manifest.image.ref);
  await streamBlobs(layout, [image.configDescriptor, ...image.manifest.layers], manifest.id, progress, signal);
}

/**
 * Size, dates and version of refused updates, read from their manifests WITHOUT trusting
 * them (the verifier returns no manifest for a refusal). Display only: a refused row is
 * always marked refused with its reason, and nothing is ever installed from these values.
 */
export async function unverifiedClaims(mediaRoot: string): Promise<Map<string, UpdateManifest>> {
  const out = new Map<string, UpdateManifest>();
  const media = await listMediaUpdates(mediaRoot).catch(() => undefined);
  for (const u of media?.updates ?? []) {
    if (!u.manifestBytes) continue;
    try {
      out.set(u.id, validateUpdateManifest(parseStrictJson(u.manifestBytes, Caps.updateManifest, `${u.id}.json`), `${u.id}.json`));
    } catch {
      // unreadable claims are simply not shown
    }
  }
  return out;
}

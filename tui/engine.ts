/**
 * The engine adapter: every TuiEngine call is one of the library functions that
 * `ferry device …` uses (openDevice, loadState, the media verifier, planInstall,
 * applyUpdate, mark-good, rollback), so the UI can never decide differently from the CLI.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { applyUpdate } from '../src/device/apply.js';
import { runRebootCommand } from '../src/device/commands.js';
import { DEFAULT_CONFIG_FILE } from '../src/device/config.js';
import { type DeviceContext, type DeviceDeps, type DeviceOptions, type MediaVerifyResult, mediaVerifyRequest, openDevice, planInputs } from '../src/device/context.js';
import { planInstall, type PlanInputs } from '../src/device/plan.js';
import { markGood, rollback } from '../src/device/maintenance.js';
import { type DeviceState, effectiveNow, loadState } from '../src/device/state.js';
import { deviceStatus } from '../src/device/status.js';
import { otherSlot } from '../src/device/types.js';
import { FerryError } from '../src/errors.js';
import { openMediaLayout, openMediaSource } from '../src/media/source.js';
import { listMediaUpdates } from '../src/media/updates.js';
import type { OciLayout } from '../src/oci/layout.js';
import { Caps } from '../src/oci/types.js';
import { validateUpdateManifest } from '../src/trust/manifest.js';
import type { UpdateManifest } from '../src/trust/types.js';
import { parseStrictJson } from '../src/util/json.js';
import type { ProgressFn } from '../src/progress.js';
import type { TuiEngine } from './engine-types.js';
import { signerName, toApplyOutcome, toDeviceInfo, toPlanInfo, toUpdateEntry } from './engine-map.js';

/** How to reach the device. */
export interface EngineOptions {
  configFile: string | undefined;
  deps: DeviceDeps;
  clock?: () => Date;
}

/** The media must be a folder holding FERRY/ or an archive written by ferry archive (indexed once, read in place). */
async function requireFerryMedia(root: string): Promise<void> {
  const st = await fsp.stat(root).catch(() => undefined);
  if (st?.isFile()) {
    await openMediaSource(root);
    return;
  }
  const ferry = await fsp.stat(path.join(root, 'FERRY')).catch(() => undefined);
  if (!ferry?.isDirectory()) throw new FerryError('MEDIA_NOT_FOUND', `${root} has no FERRY folder: plug in a stick made by ferry export`);
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

/**
 * Size, dates and version of refused updates, read from their manifests WITHOUT trusting
 * them (the verifier returns no manifest for a refusal). Display only: a refused row is
 * always marked ✗ with its reason, and nothing is ever installed from these values.
 */
async function unverifiedClaims(mediaRoot: string): Promise<Map<string, UpdateManifest>> {
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

/** The real engine for ferry-tui. */
export function createEngine(opts: EngineOptions): TuiEngine {
  const devOpts: DeviceOptions = { configFile: opts.configFile ?? DEFAULT_CONFIG_FILE };
  const clock = opts.clock ?? (() => new Date());
  const deps = opts.deps;

  /** The device, its state and every update on the stick verified, read fresh (the stick may have changed). */
  async function verifyStick(mediaRoot: string): Promise<{ dev: DeviceContext; state: DeviceState; verified: MediaVerifyResult }> {
    await requireFerryMedia(mediaRoot);
    const dev = await openDevice(devOpts, deps);
    const state = await loadState(dev.config.stateDir);
    const verified = await deps.verifyMedia(mediaVerifyRequest(dev, state, mediaRoot, clock()));
    return { dev, state, verified };
  }

  /** Everything the planner needs, gathered as `ferry device apply` does (the target slot's space measure included). */
  async function survey(mediaRoot: string): Promise<{ inputs: Omit<PlanInputs, 'requestedId'>; describeTarget: string }> {
    const { dev, state, verified } = await verifyStick(mediaRoot);
    const inputs = await planInputs(dev, state, verified, clock());
    return { inputs, describeTarget: dev.slots[otherSlot(dev.booted)].describe() };
  }

  /** A verified update by id (signature, chain and policy only: no slot I/O). */
  async function candidate(mediaRoot: string, id: string) {
    const { state, verified } = await verifyStick(mediaRoot);
    const c = verified.candidates.find((x) => x.id === id);
    if (!c) throw new FerryError('IMAGE_NOT_FOUND', `update ${id} is no longer on the stick: was it swapped?`);
    if (c.refusal) throw new FerryError(c.refusal.code, c.refusal.message);
    return { c, manifest: c.manifest!, now: effectiveNow(state, clock()) };
  }

  return {
    async status() {
      return toDeviceInfo(await deviceStatus({ ...devOpts, clock }, deps));
    },
    async listUpdates(mediaRoot) {
      const { inputs } = await survey(mediaRoot);
      const claims = await unverifiedClaims(mediaRoot);
      return { root: mediaRoot, updates: inputs.candidates.map((c) => toUpdateEntry(c, inputs, claims.get(c.id))) };
    },
    async verifySignature(mediaRoot, id) {
      const { c, now } = await candidate(mediaRoot, id);
      return { signers: (c.signers ?? []).map(signerName), chain: [], checkedAt: now.toISOString() };
    },
    async verifyBlobs(mediaRoot, id, progress, signal) {
      const { manifest } = await candidate(mediaRoot, id);
      const layout = await openMediaLayout(mediaRoot);
      const image = await layout.resolveImage(manifest.image.manifest, manifest.image.platform, manifest.image.ref);
      await streamBlobs(layout, [image.configDescriptor, ...image.manifest.layers], id, progress, signal);
    },
    async plan(mediaRoot, id) {
      const { inputs, describeTarget } = await survey(mediaRoot);
      const verdict = planInstall({ ...inputs, requestedId: id });
      if (verdict.kind === 'nothing') {
        const mine = verdict.skipped.find((x) => x.id === id);
        throw new FerryError(mine?.code ?? verdict.code, mine?.message ?? verdict.message);
      }
      return toPlanInfo(verdict.plan, inputs.state, describeTarget);
    },
    async apply(mediaRoot, id, progress, signal) {
      const r = await applyUpdate({ ...devOpts, mediaRoot, updateId: id, progress, signal, clock }, deps);
      return toApplyOutcome(r.plan, r.delivery);
    },
    markGood: async (mediaRoot) => ({ message: (await markGood({ ...devOpts, clock, ...(mediaRoot ? { mediaRoot } : {}) }, deps)).message }),
    rollback: async (mediaRoot) => ({ message: (await rollback({ ...devOpts, clock, ...(mediaRoot ? { mediaRoot } : {}) }, deps)).message }),
    async reboot() {
      const dev = await openDevice(devOpts, deps);
      await runRebootCommand(dev.config.rebootCommand);
    },
  };
}

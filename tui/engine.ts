/**
 * The engine adapter: every TuiEngine call is one call into src/device/index.ts, the
 * engine's one public face that `ferry device …` uses too, so the UI can never decide
 * differently from the CLI.
 */
import * as device from '../src/device/index.js';
import { FerryError } from '../src/errors.js';
import type { TuiEngine } from './engine-types.js';
import { receiptWaitOf, signerName, toApplyOutcome, toDeviceInfo, toMaintenanceOutcome, toPlanInfo, toUpdateEntry } from './engine-map.js';

/** How to reach the device. */
export interface EngineOptions {
  configFile: string | undefined;
  deps: device.DeviceDeps;
  clock?: () => Date;
}

/** The real engine for ferry-tui. */
export function createEngine(opts: EngineOptions): TuiEngine {
  const devOpts: device.DeviceOptions = { configFile: opts.configFile ?? device.DEFAULT_CONFIG_FILE };
  const clock = opts.clock ?? (() => new Date());
  const deps = opts.deps;

  return {
    async status() {
      const st = await device.status({ ...devOpts, clock }, deps);
      return toDeviceInfo(st, new Set(st.events.filter((e) => e.receipt && !e.deliveredTo).map((e) => `${e.receipt}-${e.action}`)));
    },
    async drift() {
      const r = await device.drift({ ...devOpts, fast: true, clock }, deps);
      return { ...(r.version ? { version: r.version } : {}), clean: r.clean, count: r.counts.added + r.counts.removed + r.counts.content + r.counts.metadata, items: r.items };
    },
    async listUpdates(mediaRoot) {
      const { survey, result } = await device.plan(devOpts, deps, mediaRoot, clock());
      const claims = await device.unverifiedClaims(mediaRoot);
      const { root: _root, ...stick } = await device.stickInfo(mediaRoot);
      void _root;
      return {
        root: mediaRoot,
        stick,
        updates: survey.inputs.candidates.map((c) => toUpdateEntry(c, survey.inputs, claims.get(c.id))),
        ...(result.kind === 'install' ? { chosenId: result.plan.update.id } : {}),
      };
    },
    async verifySignature(mediaRoot, id) {
      const { candidate, checkedAt } = await device.verifiedCandidate(devOpts, deps, mediaRoot, id, clock());
      const details = (candidate.signerDetails ?? []).map((d) => ({ ...d }));
      const first = details[0];
      return { signers: (candidate.signers ?? []).map(signerName), chain: first ? [signerName(first.subject), signerName(first.anchor)] : [], checkedAt: checkedAt.toISOString(), details };
    },
    async verifyBlobs(mediaRoot, id, progress, signal) {
      const { manifest } = await device.verifiedCandidate(devOpts, deps, mediaRoot, id, clock());
      await device.verifyImageBytes(manifest, mediaRoot, progress, signal);
    },
    async plan(mediaRoot, id) {
      const { survey, result } = await device.plan(devOpts, deps, mediaRoot, clock(), id);
      if (result.kind === 'nothing') {
        const mine = result.skipped.find((x) => x.id === id);
        throw new FerryError(mine?.code ?? result.code, mine?.message ?? result.message, { details: { why: mine?.why ?? result.why } });
      }
      const info = toPlanInfo(result.plan, survey.describeTarget, survey.state.slots[result.plan.booted].version);
      // The same decision the apply makes; if it cannot be made here, the screen shows the plain size.
      const w = await device.writeModeFor(devOpts, deps, mediaRoot, result.plan).catch(() => undefined);
      return w?.mode === 'incremental' ? { ...info, incremental: { changedBytes: w.changedBytes ?? 0, totalBytes: w.totalBytes ?? 0 } } : info;
    },
    async apply(mediaRoot, id, progress, signal) {
      const r = await device.apply({ ...devOpts, mediaRoot, updateId: id, progress, signal, clock }, deps);
      return toApplyOutcome(r.plan, r.delivery);
    },
    async markGood(mediaRoot, force) {
      // What committing costs, as the engine judged it just before: the outcome says it in the catalogue's words.
      const risk = (await device.status({ ...devOpts, clock }, deps)).markGoodRisk;
      const r = await device.markGood({ ...devOpts, clock, ...(force ? { force: true } : {}), ...(mediaRoot ? { mediaRoot } : {}) }, deps);
      return toMaintenanceOutcome(r, risk);
    },
    async rollback(mediaRoot) {
      const r = await device.rollback({ ...devOpts, clock, ...(mediaRoot ? { mediaRoot } : {}) }, deps);
      return toMaintenanceOutcome(r);
    },
    async deliverReceipts(mediaRoot) {
      const d = await device.deliverReceipts({ ...devOpts, clock, mediaRoot }, deps);
      return { written: d.written, kept: d.kept, ...(d.error || d.errorCode ? { problem: receiptWaitOf(d) } : {}) };
    },
    reboot: () => device.reboot(devOpts, deps),
  };
}

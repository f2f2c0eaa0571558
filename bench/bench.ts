/**
 * The whole bench as one function: check peers, probe ferry, generate inputs per
 * size, run the comparisons, add signature timing and scaling, write JSON + markdown.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import { probeFerry, repoRoot, snapshotDist, startupNote, type FerryCli } from './ferry.js';
import { FERRY_COMMANDS, ferrySteps, type FerrySteps } from './ferry-steps.js';
import { runComparisons, type Comparison } from './harness.js';
import { parseSize, prepareInputs, type SizeInputs } from './inputs.js';
import { attachLoop, type LoopDevice } from './loop.js';
import { probeFreshFs } from './fresh-fs.js';
import { describeMachine } from './machine.js';
import { deviceApplyComparison } from './device-apply.js';
import { deviceUpdateComparisons, INCREMENTAL_OP, ZSTD_OP } from './device-incremental.js';
import { DRIFT_FAST_OP, DRIFT_OP } from './device-drift.js';
import { plannedBytes, planRootfs, planUpdate } from './rootfs.js';
import { campaignComparisons } from './campaign.js';
import { REGISTRY_OPS, registryComparisons, startBenchRegistry } from './registry.js';
import type { TestRegistry } from '../test/helpers/registry.js';
import { exportComparison, incrementalComparison, verifyComparison, type OpsContext, type PeerStatus } from './ops.js';
import { applyBlockComparison, applyDirComparison, verifiedStreamingComparison } from './ops-apply.js';
import { ensurePeers } from './peers.js';
import { rssMethod, runChecked, runProc } from './proc.js';
import { profileFerry } from './profile.js';
import { renderMarkdown, scalingOf, type BenchResult, type Row } from './report.js';
import { receiptsScaleRows } from './receipts-scale.js';
import { signatureRows } from './signature.js';
import { initRoot, issueCertificate } from '../src/trust/pki.js';

/** Files the bench wrote. */
export interface BenchOutput {
  result: BenchResult;
  jsonPath: string;
  markdownPath: string;
}

/** Run the bench with `opts`; progress lines go to `log`. */
export async function runBench(opts: BenchOptions, log: (s: string) => void): Promise<BenchOutput> {
  const date = new Date().toISOString();
  const machine = describeMachine();
  const head = await runProc('git', ['-C', repoRoot(), 'log', '-1', '--format=%h %cI']).catch(() => undefined);
  machine['ferryCommit'] = head?.code === 0 ? head.stdout.trim() : 'unknown';
  const peers = await ensurePeers(opts.installPeers, log);
  if (existsSync(join(repoRoot(), 'dist', 'src', 'cli', 'main.js'))) log(`running ferry from a snapshot: ${await snapshotDist(opts.workdir)}`);
  const cli = await probeFerry(FERRY_COMMANDS);
  const startup = await startupNote();
  const steps = ferrySteps(cli);
  for (const [cmd, why] of Object.entries(cli.missing)) log(`ferry ${cmd}: ${why}`);
  const rows: Row[] = [];
  const sizes = opts.sizes.map((label) => ({ label, bytes: opts.rootfs !== undefined ? 0 : parseSize(label) }));
  // --only receipts needs no image inputs or loop device
  const receiptsOnly = opts.only !== undefined && 'receipts'.includes(opts.only);
  const freshNotes = new Set<string>();
  if (!receiptsOnly) for (const size of sizes) rows.push(...(await benchSize(size.label, size === sizes[sizes.length - 1], { opts, cli, steps, peers, log, freshNotes })));
  if (opts.only === undefined || 'signature'.includes(opts.only)) rows.push(...(await signatureRows(opts.workdir, opts.smoke ? 20 : 200, opts.runs, log)));
  if (opts.only === undefined || receiptsOnly) rows.push(...(await receiptsScaleRows(opts.workdir, opts.runs, log)));
  const notes = [
    `Wall time: process.hrtime around each command; peak RSS: ${rssMethod.current === 'gnu-time' ? 'GNU time %M (ru_maxrss of the largest process in the tree)' : 'VmHWM of the direct child polled from /proc every 10 ms (GNU time missing)'}. Warm page cache: inputs are generated just before and stay cached.`,
    startup,
    opts.rootfs !== undefined
      ? `Inputs (--rootfs): the real tree ${opts.rootfs} as 1.0.0; 1.1.0 rewrites every tenth regular file (same size); gzip layers by top-level directory (bench/rootfs.ts LAYERS).`
      : `Inputs: seeded synthetic rootfs per size (small configs/scripts, libraries, text, firmware, symlinks, a hardlink), 3 gzip layers (base, etc, app); 1.1.0 changes etc and app only.`,
    ...Object.entries(steps.via).map(([op, how]) => `ferry ${op} measured through the ${how}.`),
    ...freshNotes,
    `ferry measured at commit ${machine['ferryCommit']} (dist/ as built then; other engineers' uncommitted work may be in it).`,
    `Load average at start: ${machine['loadavgAtStart']} — shared machine during run (other engineers' tests may run concurrently).`,
  ];
  const result: BenchResult = {
    schema: 'ferry.bench/v1', date, machine,
    options: { sizes: opts.sizes, runs: opts.runs, smoke: opts.smoke, seed: opts.seed },
    notes, rows, scaling: scalingOf(rows, sizes),
  };
  return writeResults(result, opts);
}

/** Inputs, loop device and scratch space for one size; everything is cleaned up afterwards. */
async function benchSize(label: string, last: boolean, env: { opts: BenchOptions; cli: FerryCli; steps: FerrySteps; peers: PeerStatus; log: (s: string) => void; freshNotes: Set<string> }): Promise<Row[]> {
  const { opts, log } = env;
  const inputs = await prepareInputs(opts.workdir, label, opts.seed, log, opts.rootfs);
  const scratch = join(opts.workdir, `scratch-${label}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  // ext4 needs room for metadata and many small files on top of the bytes
  const loop = await attachLoop(join(scratch, 'slot.img'), Math.ceil(inputs.rootfsBytes * 1.4) + 128 * 2 ** 20);
  let registry: TestRegistry | undefined;
  let stopPushRegistry: (() => Promise<void>) | undefined;
  let stopCampaign: (() => Promise<void>) | undefined;
  try {
    const ctx: OpsContext = { inputs, scratch, cli: env.cli, steps: env.steps, peers: env.peers, signer: await benchSigner(scratch) };
    const only = opts.only;
    const br = only === undefined || REGISTRY_OPS.some((op) => op.includes(only)) ? await startBenchRegistry(ctx) : { why: 'not selected' };
    registry = 'reg' in br ? br.reg : undefined;
    const reg = registryComparisons(ctx, br);
    stopPushRegistry = reg.stop;
    // the campaign's stick sets may be loop devices: made only when a campaign row is selected
    const campaign = only === undefined || 'campaign build'.includes(only) || /campaign|sticks/.test(only) ? await campaignComparisons(ctx, opts.campaignSticks) : { comparisons: [], stop: async () => undefined };
    stopCampaign = campaign.stop;
    const list = [...(await comparisonsFor(ctx, loop, opts)), ...campaign.comparisons, ...reg.comparisons].filter((c) => opts.only === undefined || c.op.includes(opts.only));
    // the write rows' sides each get a fresh ext4 per sample when this machine can make one (bench/fresh-fs.ts)
    const fresh = list.some((c) => [c.ferry, ...c.peers.map((p) => p.contender)].some((s) => s.freshFs !== undefined))
      ? await probeFreshFs(join(scratch, 'fresh-backing'), opts.freshFs)
      : undefined;
    if (fresh !== undefined) {
      const note = fresh.on
        ? `Fresh file systems: every side of the export, incremental export, dir-slot apply and device apply rows writes into its own ext4 (mkfs.ext4 defaults, with a journal) made on a loop device before each sample and unmounted after it, outside the clock; the loop devices' backing files are preallocated on the workdir's disk (${opts.workdir})${fresh.directIo ? ', read and written with O_DIRECT' : ''}.`
        : `Fresh file systems: not used (${fresh.why}); the write rows write into folders on the workdir's file system, which carries whatever was deleted there before.`;
      env.freshNotes.add(note);
      log(note);
    }
    const rows = await runComparisons(list, opts.runs, log, { settle: scratch, ...(fresh !== undefined ? { fresh } : {}) });
    if (opts.profile && last) await profileFerry(ctx, opts.resultsDir, log);
    return rows;
  } finally {
    if ('detach' in loop) await loop.detach();
    await registry?.stop();
    await stopPushRegistry?.();
    await stopCampaign?.();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A throwaway root and code-signing signer (library calls: the same keys `ferry pki` makes). */
async function benchSigner(scratch: string): Promise<string> {
  await initRoot({ out: join(scratch, 'pki', 'root'), name: 'ferry bench root', days: 3650 });
  await issueCertificate({ issuerDir: join(scratch, 'pki', 'root'), profile: 'signer', name: 'ferry bench signer', days: 400, out: join(scratch, 'pki', 'signer') });
  return join(scratch, 'pki', 'signer');
}

async function comparisonsFor(ctx: OpsContext, loop: LoopDevice, opts: BenchOptions): Promise<Comparison[]> {
  const wanted = (op: string) => opts.only === undefined || op.includes(opts.only);
  // the verify row's stick and RAUC bundle cost a full export and bundle per size (3 GiB each at 4G): only when selected
  const { stick, blobDir, bundle } = wanted('verify media') ? await verifyFixtures(ctx.inputs, ctx.scratch, ctx.steps, ctx) : { blobDir: join(ctx.scratch, 'verify-layout', 'blobs') } as { stick?: string; blobDir: string; bundle?: string };
  // the update (and drift) rows export two sticks (one with zstd layers) before they run: only when selected
  const updates = [INCREMENTAL_OP, ZSTD_OP, DRIFT_OP, DRIFT_FAST_OP].some(wanted)
    ? await deviceUpdateComparisons(ctx.inputs, ctx.scratch, ctx.cli.missing['device apply'] ?? ctx.steps.exportWhy, ctx.inputs.changedBytes ?? changedBytes(opts.seed, ctx.inputs.sizeLabel), wanted)
    : [];
  return [
    exportComparison(ctx), incrementalComparison(ctx), verifyComparison(ctx, stick, blobDir, bundle),
    applyDirComparison(ctx), verifiedStreamingComparison(ctx), applyBlockComparison(ctx, loop),
    await deviceApplyComparison(ctx.inputs, ctx.scratch, ctx.cli, ctx.steps, ctx.peers), ...updates,
  ];
}

/** Content bytes of the files 1.1.0 changes or adds (from the generator's plan). */
function changedBytes(seed: number, sizeLabel: string): number {
  const u = planUpdate(seed, planRootfs(seed, parseSize(sizeLabel)));
  return plannedBytes([...u.changed, ...u.added]);
}

/** Untimed fixtures for the verify row: a ferry stick (or skopeo's layout) and a RAUC bundle. */
async function verifyFixtures(inputs: SizeInputs, scratch: string, steps: FerrySteps, ctx: OpsContext): Promise<{ stick?: string; blobDir: string; bundle?: string }> {
  const out: { stick?: string; blobDir: string; bundle?: string } = { blobDir: join(scratch, 'verify-layout', 'blobs') };
  if (steps.exportWhy === undefined) {
    const stick = join(scratch, 'stick-verify');
    await mkdir(stick, { recursive: true });
    const [cmd, ...args] = steps.exportArgv(inputs.archive.v1, stick, '1.0.0');
    await runChecked(cmd as string, args);
    out.stick = stick;
    out.blobDir = join(stick, 'FERRY', 'oci', 'blobs');
  } else if (ctx.peers.skopeo === undefined) {
    await runChecked('skopeo', ['copy', '--quiet', `oci-archive:${inputs.archive.v1}:1.0.0`, `oci:${join(scratch, 'verify-layout')}:1.0.0`]);
  }
  if (ctx.peers.rauc === undefined && ctx.peers.mksquashfs === undefined) {
    const bundle = join(scratch, 'verify.raucb');
    await runChecked('rauc', ['bundle', '--cert', inputs.rauc.cert, '--key', inputs.rauc.key, inputs.rauc.content, bundle]);
    out.bundle = bundle;
  }
  return out;
}

async function writeResults(result: BenchResult, opts: BenchOptions): Promise<BenchOutput> {
  await mkdir(opts.resultsDir, { recursive: true });
  const tag = opts.smoke ? 'smoke' : opts.sizes.join('_');
  const stamp = result.date.slice(0, 16).replace(/[:T]/g, '-');
  const json = JSON.stringify(result, null, 2) + '\n';
  const md = renderMarkdown(result);
  const latest = opts.smoke ? 'latest-smoke' : 'latest';
  await writeFile(join(opts.resultsDir, `${stamp}-${tag}.json`), json);
  await writeFile(join(opts.resultsDir, `${latest}.json`), json);
  await writeFile(join(opts.resultsDir, `${latest}.md`), md);
  return { result, jsonPath: join(opts.resultsDir, `${latest}.json`), markdownPath: join(opts.resultsDir, `${latest}.md`) };
}

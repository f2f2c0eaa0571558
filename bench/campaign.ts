/**
 * Many sticks, one read (issue 15): `ferry campaign build` of one signed image onto N
 * sticks, N = 4 and 2 against N = 1 (target for N = 4: at most 1.3x), and against the floor
 * of the same durable writes: `dd bs=4M conv=fsync` of the image's bytes onto the N sticks
 * at once, and onto one (how the floor itself scales from 1 to N sticks on this machine). Where the sticks are (bench/campaign-sticks.ts): folders on one local disk (the
 * default: N sticks share one device, so N durable copies cost N times one), folders on
 * tmpfs (no device: the CPU's limit), or throttled loop devices (a device per stick).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeStickSet, type StickKind, type StickSet } from './campaign-sticks.js';
import { ferryArgv } from './ferry.js';
import { treeBytes, type Comparison, type Contender } from './harness.js';
import type { OpsContext } from './ops.js';
import { runChecked } from './proc.js';
import { fmtBytes } from './report.js';
import { BENCH_TARGET } from './ferry-steps.js';

/** The campaign file: the v1 archive as one signed image. */
async function writeCampaign(ctx: OpsContext, file: string): Promise<void> {
  await mkdir(join(ctx.scratch, 'campaign'), { recursive: true });
  const text = [
    'name: bench',
    `signers: [{ dir: ${JSON.stringify(ctx.signer)} }]`,
    'images:',
    `  - { image: ${JSON.stringify(`oci-archive:${ctx.inputs.archive.v1}:1.0.0`)}, target: ${BENCH_TARGET}, version: 1.0.0, compatible: ["bench,device"] }`,
    '',
  ].join('\n');
  await writeFile(file, text);
}

/** Remove every stick's content, then sync each stick's file system (untimed: the deletes' journal commit is not the next run's). */
async function clearSticks(set: StickSet): Promise<void> {
  for (const s of set.dirs) await rm(s, { recursive: true, force: true });
  for (const s of set.dirs) await runChecked('sync', ['-f', dirname(s)]).catch(() => undefined);
}

function buildSide(ctx: OpsContext, set: StickSet, n: number, why: string | undefined): Contender {
  const file = join(ctx.scratch, 'campaign', 'campaign.yaml');
  const sticks = set.dirs.slice(0, n);
  const name = `ferry campaign build, ${n} stick(s)`;
  if (why !== undefined) return { name, notRun: why, argv: () => [] };
  return {
    name,
    prepare: async () => {
      await writeCampaign(ctx, file);
      await clearSticks(set);
    },
    argv: () => [...ferryArgv(), 'campaign', 'build', file, '--create', '--no-chunk-cache', ...sticks.flatMap((s) => ['--media', s])],
    bytesWritten: async () => (await Promise.all(sticks.map(treeBytes))).reduce((a, b) => a + b, 0),
  };
}

/** The floor of N durable copies on these sticks: dd of the image archive (its blobs, ~the bytes ferry writes) onto each at once, fsynced. */
function ddSide(ctx: OpsContext, set: StickSet, n: number, why: string | undefined): Contender {
  const sticks = set.dirs.slice(0, n);
  const name = n === 1 ? 'dd bs=4M conv=fsync, 1 stick' : `dd bs=4M conv=fsync x${n} in parallel`;
  if (why !== undefined) return { name, notRun: why, argv: () => [] };
  const script = 'pids=; for d in "$@"; do dd if="$SRC" of="$d/dd.bin" bs=4M conv=fsync status=none & pids="$pids $!"; done; for p in $pids; do wait $p || exit 1; done';
  return {
    name,
    prepare: async () => {
      await clearSticks(set);
      for (const s of sticks) await mkdir(s, { recursive: true });
    },
    argv: () => ['sh', '-c', script, 'sh', ...sticks],
    env: { ...process.env, SRC: ctx.inputs.archive.v1 },
    bytesWritten: async () => (await Promise.all(sticks.map(treeBytes))).reduce((a, b) => a + b, 0),
  };
}

function row(ctx: OpsContext, set: StickSet, n: number, why: string | undefined, maxRatio?: number): Comparison {
  const w = set.why ?? why;
  return {
    op: `campaign build${set.label} (${n} sticks vs 1, one read)`,
    size: ctx.inputs.sizeLabel,
    inputBytes: ctx.inputs.image.v1.payloadBytes,
    ferry: buildSide(ctx, set, n, w),
    peers: [
      { contender: buildSide(ctx, set, 1, w), target: maxRatio !== undefined ? { maxRatio } : {} },
      { contender: ddSide(ctx, set, n, w), target: {} },
      // how the floor itself scales from one stick to N here: ferry's N-vs-1 ratio is read against it
      { contender: ddSide(ctx, set, 1, w), target: {} },
    ],
    notes: (f) => (f.kind === 'measured' && f.bytesWritten !== undefined ? `${set.where}; ${fmtBytes(f.bytesWritten)} written in all` : ''),
  };
}

/** The rows for each stick set: N = 4 vs N = 1 (target 1.3x) and N = 2 vs N = 1, each also against dd's floor; `stop` removes the sets. */
export async function campaignComparisons(ctx: OpsContext, kinds: readonly StickKind[]): Promise<{ comparisons: Comparison[]; stop: () => Promise<void> }> {
  const why = ctx.signer === undefined ? 'no bench signer' : ctx.cli.missing['campaign build'];
  const sets: StickSet[] = [];
  for (const k of kinds) sets.push(await makeStickSet(k, ctx.scratch, ctx.inputs.image.v1.payloadBytes));
  return {
    comparisons: sets.flatMap((set) => [row(ctx, set, 4, why, 1.3), row(ctx, set, 2, why)]),
    stop: async () => {
      for (const s of sets) await s.stop();
    },
  };
}

/**
 * Many sticks, one read (issue 15): `ferry campaign build` of one signed image onto N local
 * folders, N = 4 and 2 against N = 1. Every source blob is read once and teed to every
 * stick, each stick hashing and syncing what it writes, so N sticks should cost little
 * more than one when the sticks are separate devices (target for N = 4: at most 1.3x).
 * Here all folders share one disk and the CPU's hashing, so the ratio is an upper bound.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryArgv } from './ferry.js';
import { treeBytes, type Comparison, type Contender } from './harness.js';
import type { OpsContext } from './ops.js';
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

function sticksOf(ctx: OpsContext, n: number): string[] {
  return Array.from({ length: n }, (_, i) => join(ctx.scratch, 'campaign', `stick-${i + 1}`));
}

function buildSide(ctx: OpsContext, n: number, why: string | undefined): Contender {
  const file = join(ctx.scratch, 'campaign', 'campaign.yaml');
  const sticks = sticksOf(ctx, n);
  if (why !== undefined) return { name: `ferry campaign build, ${n} stick(s)`, notRun: why, argv: () => [] };
  return {
    name: `ferry campaign build, ${n} stick(s)`,
    prepare: async () => {
      await writeCampaign(ctx, file);
      for (const s of sticksOf(ctx, 4)) await rm(s, { recursive: true, force: true });
    },
    argv: () => [...ferryArgv(), 'campaign', 'build', file, '--create', '--no-chunk-cache', ...sticks.flatMap((s) => ['--media', s])],
    bytesWritten: async () => (await Promise.all(sticks.map(treeBytes))).reduce((a, b) => a + b, 0),
  };
}

/** The rows: N = 4 vs N = 1 (target 1.3x) and N = 2 vs N = 1. */
export function campaignComparisons(ctx: OpsContext): Comparison[] {
  const why = ctx.signer === undefined ? 'no bench signer' : ctx.cli.missing['campaign build'];
  const row = (n: number, maxRatio?: number): Comparison => ({
    op: `campaign build (${n} sticks vs 1, one read)`,
    size: ctx.inputs.sizeLabel,
    inputBytes: ctx.inputs.image.v1.payloadBytes,
    ferry: buildSide(ctx, n, why),
    peers: [{ contender: buildSide(ctx, 1, why), target: maxRatio !== undefined ? { maxRatio } : {} }],
    notes: (f) => (f.kind === 'measured' && f.bytesWritten !== undefined ? `${n} sticks on one local disk; ${(f.bytesWritten / 2 ** 20).toFixed(0)} MiB written in all` : ''),
  });
  return [row(4, 1.3), row(2)];
}

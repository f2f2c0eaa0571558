/**
 * The registry rows: export from a local registry (docker-registry on 127.0.0.1, the test
 * helper's, plain HTTP) against `skopeo copy docker://… oci:…`; re-export onto a stick that
 * holds the previous release (only new blobs fetched); push of a signed stick against
 * `skopeo copy oci:… docker://…`. Each run pushes to a fresh repository, so nothing is skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import type { Comparison, Contender } from './harness.js';
import { ferryArgv } from './ferry.js';
import { BENCH_TARGET } from './ferry-steps.js';
import { RSS_TARGET_MIB, type OpsContext } from './ops.js';
import { runChecked } from './proc.js';
import { fmtBytes, type Outcome } from './report.js';
import { treeBytes } from './harness.js';

/** The names of the registry rows (for --only). */
export const REGISTRY_OPS = ['export (registry → media)', 'incremental export from registry 1.0.0 → 1.1.0', 'push (media → registry)'] as const;

/** A registry filled with the size's 1.0.0 and 1.1.0, or why there is none. */
export type BenchRegistry = { reg: TestRegistry } | { why: string };

/** Start the registry and push both releases into it (untimed). */
export async function startBenchRegistry(ctx: OpsContext): Promise<BenchRegistry> {
  if (ctx.peers.skopeo !== undefined) return { why: ctx.peers.skopeo };
  try {
    execFileSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' });
  } catch {
    return { why: 'docker-registry is not installed (apt-get install docker-registry)' };
  }
  const reg = await startRegistry();
  for (const [v, archive] of [['1.0.0', ctx.inputs.archive.v1], ['1.1.0', ctx.inputs.archive.v2]] as const) {
    await runChecked('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${archive}:${v}`, `docker://${reg.host}/bench:${v}`]);
  }
  return { reg };
}

/**
 * Read every file under `dir` once (untimed), so that a row reading a stick finds it in the page
 * cache as the bench's other inputs are: ferry exports from a registry with O_DIRECT
 * (src/oci/blob-file-writer.ts), which leaves nothing of the stick cached, and the push row's
 * ferry side would otherwise read it from the disk where skopeo, reading it second, finds it cached.
 */
async function warmTree(dir: string): Promise<void> {
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const fh = await open(join(e.parentPath, e.name), 'r');
    try {
      while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0);
    } finally {
      await fh.close();
    }
  }
}

/** The chunk cache of the registry rows: cleared before each run, as the oci-archive rows do. */
const cacheOf = (ctx: OpsContext) => join(ctx.scratch, 'chunk-cache-registry');

function exportArgv(ctx: OpsContext, host: string, stick: string, version: string): string[] {
  const signer = ctx.signer !== undefined ? ['--signer', ctx.signer, '--compatible', 'bench,device'] : [];
  return [...ferryArgv(), 'export', '--image', `docker://${host}/bench:${version}`, '--tls-verify=false', '--media', stick, '--create', '--target', BENCH_TARGET, '--version', version, ...signer, '--chunk-cache', cacheOf(ctx)];
}

function side(br: BenchRegistry, c: Omit<Contender, 'notRun'>): Contender {
  return 'why' in br ? { name: c.name, notRun: br.why, argv: () => [] } : c;
}

function fetched(ferry: Outcome): string {
  return ferry.kind === 'measured' && ferry.bytesWritten !== undefined ? `fetched from the registry (ferry's --json bytesFetched): ${fmtBytes(ferry.bytesWritten)}` : '';
}

/** bytesFetched of ferry's --json result; without captured output, what the run added to the stick. */
async function bytesFetched(stdout: string | undefined, fallback: () => Promise<number>): Promise<number> {
  const last = stdout?.trim().split('\n').pop();
  if (!last) return fallback();
  const r = JSON.parse(last) as { bytesFetched?: unknown };
  if (typeof r.bytesFetched !== 'number') throw new Error(`ferry export --json printed no bytesFetched: ${last.slice(0, 200)}`);
  return r.bytesFetched;
}

/** The three registry comparisons for one size, and how to stop the push rows' registry afterwards. */
export function registryComparisons(ctx: OpsContext, br: BenchRegistry): { comparisons: Comparison[]; stop: () => Promise<void> } {
  const host = 'reg' in br ? br.reg.host : '';
  const stick = join(ctx.scratch, 'stick-registry');
  const inc = join(ctx.scratch, 'stick-registry-inc');
  const skopeoOut = join(ctx.scratch, 'skopeo-registry');
  let before = 0;
  const reset = async (d: string) => {
    await rm(d, { recursive: true, force: true });
    await rm(cacheOf(ctx), { recursive: true, force: true });
    await mkdir(d, { recursive: true });
  };
  const exportRow: Comparison = {
    op: REGISTRY_OPS[0],
    size: ctx.inputs.sizeLabel,
    inputBytes: ctx.inputs.image.v1.payloadBytes,
    ferry: side(br, { name: 'ferry export --image docker://', prepare: () => reset(stick), argv: () => exportArgv(ctx, host, stick, '1.0.0'), bytesWritten: () => treeBytes(stick) }),
    peers: [
      {
        contender: side(br, { name: 'skopeo copy docker:// oci:', prepare: () => rm(skopeoOut, { recursive: true, force: true }),
          argv: () => ['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/bench:1.0.0`, `oci:${skopeoOut}:1.0.0`] }),
        target: { maxRatio: 0.6, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
  };
  const incRow: Comparison = {
    op: REGISTRY_OPS[1],
    size: ctx.inputs.sizeLabel,
    inputBytes: ctx.inputs.image.v2.payloadBytes,
    ferry: side(br, { name: 'ferry export docker:// (stick holds 1.0.0)',
      prepare: async () => {
        await reset(inc);
        const [cmd, ...args] = exportArgv(ctx, host, inc, '1.0.0');
        await runChecked(cmd as string, args);
        before = await treeBytes(inc);
      },
      argv: () => [...exportArgv(ctx, host, inc, '1.1.0'), '--json'],
      bytesWritten: (stdout) => bytesFetched(stdout, async () => (await treeBytes(inc)) - before) }),
    peers: [
      {
        contender: side(br, { name: 'ferry full export docker:// of 1.1.0', prepare: () => reset(stick), argv: () => exportArgv(ctx, host, stick, '1.1.0'), bytesWritten: () => treeBytes(stick) }),
        target: { maxRatio: 1.0, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: fetched,
  };
  // each push side gets a registry of its own, started fresh before every run (untimed): a blob
  // cache (skopeo's blob-info cache, ferry's mount map) then has nothing to mount from, every byte is uploaded
  let target: TestRegistry | undefined;
  const fresh = async () => {
    await target?.stop();
    target = await startRegistry();
  };
  const pushRow: Comparison = {
    op: REGISTRY_OPS[2],
    size: ctx.inputs.sizeLabel,
    inputBytes: ctx.inputs.image.v1.payloadBytes,
    ferry: side(br, { name: 'ferry push --to docker://',
      prepare: async () => {
        // a signed stick of 1.0.0 (the export row's stick may hold another release)
        await reset(stick);
        const [cmd, ...args] = exportArgv(ctx, host, stick, '1.0.0');
        await runChecked(cmd as string, args);
        await warmTree(stick);
        await fresh();
      },
      argv: () => [...ferryArgv(), 'push', '--media', stick, '--to', `docker://${target!.host}/ferry`, '--tls-verify=false'] }),
    peers: [
      {
        contender: side(br, { name: 'skopeo copy oci: docker://', prepare: fresh,
          argv: () => ['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${join(stick, 'FERRY', 'oci')}:${BENCH_TARGET}-1.0.0`, `docker://${target!.host}/skopeo/bench:1.0.0`] }),
        target: { maxRatio: 1.0, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: () => 'a fresh registry per run, so both sides upload every blob; ferry checks each blob against its digest as it reads it (one read) and also pushes the signed update',
  };
  return { comparisons: [exportRow, incRow, pushRow], stop: async () => target?.stop() };
}

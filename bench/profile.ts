/**
 * `--profile`: run each available ferry operation once under `node --cpu-prof` and
 * summarise where the main thread's time goes (self time per function) into
 * bench/results/profile-<op>.txt. Hashing and zlib run on libuv threads, so their
 * cost shows as "(idle)"/(program) on the main thread while it waits; the summary
 * says so.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Contender } from './harness.js';
import { exportComparison, exportStick, verifyComparison, type OpsContext } from './ops.js';
import { applyDirComparison } from './ops-apply.js';
import { runChecked } from './proc.js';

interface CpuProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface CpuProfile { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Top functions by self time, as text. Pure. */
export function summariseCpuProfile(p: CpuProfile, title: string, top = 20): string {
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  for (const n of p.nodes) {
    const us = byNode.get(n.id) ?? 0;
    if (us === 0) continue;
    const f = n.callFrame;
    const where = f.url ? ` ${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const total = [...byFn.values()].reduce((a, b) => a + b, 0) || 1;
  const rows = [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `profile: ${title}`,
    `main-thread samples: ${(total / 1000).toFixed(0)} ms (wall ${((p.endTime - p.startTime) / 1000).toFixed(0)} ms)`,
    '(idle) = main thread waiting for I/O or for libuv threads (hashing, zlib, fs); (program) = native V8/Node work outside JS',
    '',
    ...rows.map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(9)} ms  ${k}`),
  ].join('\n') + '\n';
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 6);
  const nm = url.lastIndexOf('node_modules/');
  return nm >= 0 ? url.slice(nm) : url.startsWith('node:') ? url : basename(url);
}

/** Profile each ferry operation of `ctx` that can run; writes profile-<op>.txt files. */
export async function profileFerry(ctx: OpsContext, resultsDir: string, log: (s: string) => void): Promise<void> {
  const sides: [string, Contender][] = [
    ['export', exportComparison(ctx).ferry],
    ['apply-dir', applyDirComparison(ctx).ferry],
  ];
  const stick = exportStick(ctx);
  sides.push(['verify', verifyComparison(ctx, ctx.steps.exportWhy === undefined ? stick : undefined, join(stick, 'FERRY', 'oci', 'blobs'), undefined).ferry]);
  for (const [name, side] of sides) {
    if (side.notRun !== undefined) {
      log(`profile ${name}: skipped (${side.notRun})`);
      continue;
    }
    const dir = join(ctx.scratch, `cpuprof-${name}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    if (name !== 'verify') await side.prepare?.();
    const [node, ...rest] = side.argv();
    await runChecked(node as string, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...rest]);
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) continue;
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const out = join(resultsDir, `profile-${name}.txt`);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(out, summariseCpuProfile(profile, `ferry ${name}, ${ctx.inputs.sizeLabel}`));
    log(`profile ${name}: ${out}`);
  }
}

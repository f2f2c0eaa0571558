/**
 * The bench's results model and its rendering: medians, ratios, verdicts against
 * the targets, and the markdown table for the README. Pure: values in, values out.
 */
import type { Sample } from './proc.js';

/** A measured side of a comparison, or why it was not measured. */
export type Outcome =
  | { kind: 'measured'; samples: Sample[]; medianSec: number; medianRssKiB: number; medianCpuSec?: number; bytesWritten?: number }
  | { kind: 'not-run'; reason: string };

/** What the ferry side of a row must achieve. */
export interface Target {
  /** ferry time / peer time must be at most this. */
  maxRatio?: number;
  /** ferry peak RSS must be at most this. */
  maxRssMiB?: number;
  /** ferry time (per operation) must be below this. */
  maxMs?: number;
}

/** One comparison: ferry against one peer, on one input size. */
export interface Row {
  op: string;
  size: string;
  /** Bytes the operation processes (for MB/s). */
  inputBytes: number;
  ferry: Outcome;
  peer: { name: string; outcome: Outcome };
  target: Target;
  notes?: string;
}

/** The whole result file (bench/results/*.json). */
export interface BenchResult {
  schema: 'ferry.bench/v1';
  date: string;
  machine: Record<string, string | number>;
  options: { sizes: string[]; runs: number; smoke: boolean; seed: number };
  notes: string[];
  rows: Row[];
  scaling: ScalingRow[];
}

/** How one operation grows from one size to the next. */
export interface ScalingRow {
  op: string;
  from: string;
  to: string;
  /** (time at `to` / time at `from`) / (bytes at `to` / bytes at `from`): 1.0 is exactly linear. */
  timePerByteRatio: number;
  rssFromMiB: number;
  rssToMiB: number;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Fold samples into a measured outcome. */
export function measured(samples: Sample[], bytesWritten?: number): Outcome {
  const cpu = samples.map((s) => s.cpuSec).filter((c): c is number => c !== undefined);
  const out: Outcome = {
    kind: 'measured',
    samples,
    medianSec: median(samples.map((s) => s.wallSec)),
    medianRssKiB: median(samples.map((s) => s.maxRssKiB)),
    ...(cpu.length === samples.length ? { medianCpuSec: median(cpu) } : {}),
  };
  return bytesWritten === undefined ? out : { ...out, bytesWritten };
}

/** ferry time / peer time, or undefined when either side was not measured. */
export function ratioOf(row: Row): number | undefined {
  if (row.ferry.kind !== 'measured' || row.peer.outcome.kind !== 'measured') return undefined;
  if (row.peer.outcome.medianSec <= 0) return undefined;
  return row.ferry.medianSec / row.peer.outcome.medianSec;
}

/** ferry CPU seconds / peer CPU seconds, when both were measured with GNU time. */
export function cpuRatioOf(row: Row): number | undefined {
  const f = row.ferry;
  const p = row.peer.outcome;
  if (f.kind !== 'measured' || p.kind !== 'measured' || f.medianCpuSec === undefined || p.medianCpuSec === undefined || p.medianCpuSec <= 0) return undefined;
  return f.medianCpuSec / p.medianCpuSec;
}

/** "meets", "misses: …" or "n/a: …" for one row. */
export function verdictOf(row: Row): string {
  if (row.ferry.kind !== 'measured') return 'n/a (ferry not measured)';
  const misses: string[] = [];
  const ratio = ratioOf(row);
  const t = row.target;
  if (t.maxRatio !== undefined) {
    if (ratio === undefined) return 'n/a (peer not measured)';
    if (ratio > t.maxRatio) misses.push(`ratio ${ratio.toFixed(2)} > ${t.maxRatio}`);
  }
  if (t.maxMs !== undefined && row.ferry.medianSec * 1000 >= t.maxMs) misses.push(`${fmtTime(row.ferry.medianSec)} ≥ ${t.maxMs} ms`);
  if (t.maxRssMiB !== undefined && row.ferry.medianRssKiB / 1024 > t.maxRssMiB) misses.push(`RSS ${(row.ferry.medianRssKiB / 1024).toFixed(0)} MiB > ${t.maxRssMiB}`);
  if (t.maxRatio === undefined && t.maxMs === undefined && t.maxRssMiB === undefined) return 'n/a (no target)';
  if (misses.length > 0) return `misses: ${misses.join(', ')}`;
  // a row whose only target is ferry's own RSS says so, so "meets" is not read as beating the peer
  return t.maxRatio === undefined && t.maxMs === undefined ? 'meets (RSS target only)' : 'meets';
}

/** Seconds as "1.23 s", "45.6 ms" or "789 µs". */
export function fmtTime(sec: number): string {
  if (sec >= 1) return `${sec.toFixed(2)} s`;
  if (sec >= 1e-3) return `${(sec * 1e3).toFixed(1)} ms`;
  return `${(sec * 1e6).toFixed(0)} µs`;
}

/** Bytes as MiB/GiB with one decimal. */
export function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

function cell(o: Outcome): string {
  return o.kind === 'measured' ? fmtTime(o.medianSec) : `not run: ${o.reason}`;
}

function targetText(t: Target): string {
  const parts: string[] = [];
  if (t.maxRatio !== undefined) parts.push(`≤ ${t.maxRatio}x`);
  if (t.maxMs !== undefined) parts.push(`< ${t.maxMs} ms`);
  if (t.maxRssMiB !== undefined) parts.push(`RSS ≤ ${t.maxRssMiB} MiB`);
  return parts.join(', ') || '—';
}

/** Render the markdown report (machine description, main table, scaling table, notes). */
export function renderMarkdown(r: BenchResult): string {
  const m = r.machine;
  const lines = [
    `### ferry benchmarks (${r.date})`,
    '',
    `Machine: ${m['cpu']}, ${m['nproc']} CPUs, ${m['memory']} RAM, ${m['os']}; Node ${m['node']}. ` +
      `Sizes ${r.options.sizes.join(', ')}; median of ${r.options.runs} run(s)${r.options.smoke ? ' (smoke run)' : ''}; seed ${r.options.seed}.`,
    '',
    '| operation | size | ferry | peer | ratio | ferry MB/s | ferry peak RSS | target | verdict | CPU ratio | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const ratio = ratioOf(row);
    const f = row.ferry;
    const mbps = f.kind === 'measured' && row.inputBytes > 0 ? (row.inputBytes / 1e6 / f.medianSec).toFixed(0) : '—';
    const rss = f.kind === 'measured' ? `${(f.medianRssKiB / 1024).toFixed(0)} MiB` : '—';
    lines.push(`| ${[row.op, row.size, cell(f), `${row.peer.name}: ${cell(row.peer.outcome)}`, ratio === undefined ? '—' : `${ratio.toFixed(2)}x`,
      mbps, rss, targetText(row.target), verdictOf(row), cpuText(row), row.notes ?? ''].map(escapeCell).join(' | ')} |`);
  }
  if (r.scaling.length > 0) {
    lines.push('', '| scaling | sizes | time per byte (1.0 = linear) | ferry peak RSS | verdict |', '|---|---|---|---|---|');
    for (const s of r.scaling) {
      const flat = s.rssToMiB <= Math.max(s.rssFromMiB * 1.25, s.rssFromMiB + 16);
      const linear = s.timePerByteRatio <= 1.25;
      const verdict = flat && linear ? 'meets' : `misses: ${[!linear && 'time grows faster than size', !flat && 'RSS grows with size'].filter(Boolean).join(', ')}`;
      lines.push(`| ${s.op} | ${s.from} → ${s.to} | ${s.timePerByteRatio.toFixed(2)} | ${s.rssFromMiB.toFixed(0)} → ${s.rssToMiB.toFixed(0)} MiB | ${verdict} |`);
    }
  }
  lines.push('', 'ratio = ferry wall time / peer wall time (the verdict uses it); CPU ratio = user+system CPU seconds, ferry / peer: steadier on a busy machine.');
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

function cpuText(row: Row): string {
  const r = cpuRatioOf(row);
  return r === undefined ? '—' : `${r.toFixed(2)}x`;
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Scaling rows: for each op measured at two sizes, how time per byte and RSS change. */
export function scalingOf(rows: readonly Row[], sizes: readonly { label: string; bytes: number }[]): ScalingRow[] {
  const out: ScalingRow[] = [];
  const ops = [...new Set(rows.map((r) => r.op))];
  for (const op of ops) {
    for (let i = 0; i + 1 < sizes.length; i++) {
      const a = sizes[i] as { label: string; bytes: number };
      const b = sizes[i + 1] as { label: string; bytes: number };
      const ra = rows.find((r) => r.op === op && r.size === a.label && r.ferry.kind === 'measured');
      const rb = rows.find((r) => r.op === op && r.size === b.label && r.ferry.kind === 'measured');
      if (!ra || !rb || ra.ferry.kind !== 'measured' || rb.ferry.kind !== 'measured' || ra.inputBytes <= 0) continue;
      out.push({
        op, from: a.label, to: b.label,
        timePerByteRatio: (rb.ferry.medianSec / ra.ferry.medianSec) / (rb.inputBytes / ra.inputBytes),
        rssFromMiB: ra.ferry.medianRssKiB / 1024,
        rssToMiB: rb.ferry.medianRssKiB / 1024,
      });
    }
  }
  return out;
}

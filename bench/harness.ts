/**
 * The measuring loop: each comparison runs ferry and its peers N times, interleaved
 * (ferry, peer 1, peer 2, ferry, …) so drift on a shared machine hits all sides alike,
 * and folds the samples into one table row per peer. A side that cannot run, or that
 * fails, becomes "not run: <reason>" — never a number.
 */
import { readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { measure, runChecked, type Sample } from './proc.js';
import { measured, type Outcome, type Row, type Target } from './report.js';

/** One side of a comparison: a command line plus untimed set-up. */
export interface Contender {
  name: string;
  /** Set when this side cannot run here; the reason goes into the table. */
  notRun?: string;
  /** Untimed set-up before every run (clear the output, pre-load a stick, …). */
  prepare?: () => Promise<void>;
  /** The command, built after `prepare` (so it may list files prepare made). */
  argv: () => string[];
  /** Bytes the run left on its output (or fetched: see the registry rows), measured after each run; `stdout` is what it printed, when captured. */
  bytesWritten?: (stdout?: string) => Promise<number>;
  env?: NodeJS.ProcessEnv;
}

/** ferry against one or more peers on one input. */
export interface Comparison {
  op: string;
  size: string;
  inputBytes: number;
  ferry: Contender;
  peers: { contender: Contender; target: Target }[];
  /** Extra text for the notes column, from the measured outcomes. */
  notes?: (ferry: Outcome, peer: Outcome, peerName: string) => string;
  /** Untimed check after the last run that ferry's output is right (throws when not). */
  check?: () => Promise<void>;
}

/**
 * Run every comparison `runs` times; returns the table rows. With `settle` (a folder on the
 * file system the runs write to), that file system is synced (syncfs) after each untimed
 * prepare: a prepare that deleted the last run's output (720 MiB at 1G) left a journal
 * commit with the discards of all its blocks (this disk is mounted with `discard`), and
 * the first fsync of the timed command waited for it (0.5–0.8 s measured), which only
 * a side that syncs (ferry) paid, never one that leaves its writes in memory (skopeo).
 */
export async function runComparisons(list: readonly Comparison[], runs: number, log: (s: string) => void, settle?: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of list) {
    const sides = [c.ferry, ...c.peers.map((p) => p.contender)];
    const outcomes = await runSides(c, sides, runs, log, settle);
    let ferry = outcomes[0] as Outcome;
    if (ferry.kind === 'measured' && c.check) {
      // a fast but wrong result must not win a row
      try {
        await c.check();
      } catch (e) {
        ferry = { kind: 'not-run', reason: `wrong output: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
        log(`  ${c.op} ${c.size}: ${ferry.reason}`);
      }
    }
    c.peers.forEach((p, i) => {
      const peer = outcomes[i + 1] as Outcome;
      const row: Row = { op: c.op, size: c.size, inputBytes: c.inputBytes, ferry, peer: { name: p.contender.name, outcome: peer }, target: p.target };
      const notes = c.notes?.(ferry, peer, p.contender.name);
      rows.push(notes ? { ...row, notes } : row);
    });
  }
  return rows;
}

async function runSides(c: Comparison, sides: readonly Contender[], runs: number, log: (s: string) => void, settle?: string): Promise<Outcome[]> {
  const samples: Sample[][] = sides.map(() => []);
  const bytes: number[][] = sides.map(() => []);
  const failed: (string | undefined)[] = sides.map((s) => s.notRun);
  for (let run = 0; run < runs; run++) {
    for (const [i, side] of sides.entries()) {
      if (failed[i] !== undefined) continue;
      try {
        await side.prepare?.();
        if (settle !== undefined) await runChecked('sync', ['-f', settle]);
        const { stdout, ...s } = await measure(side.argv(), side.env ? { env: side.env } : {});
        samples[i]?.push(s); // the output is read here, not kept in the results
        if (side.bytesWritten) bytes[i]?.push(await side.bytesWritten(stdout));
        log(`  ${c.op} ${c.size} run ${run + 1}/${runs}: ${side.name} ${s.wallSec.toFixed(3)} s, ${(s.maxRssKiB / 1024).toFixed(0)} MiB`);
      } catch (e) {
        failed[i] = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300);
        log(`  ${c.op} ${c.size}: ${side.name} ${failed[i]}`);
      }
    }
  }
  return sides.map((_, i): Outcome => {
    const why = failed[i];
    if (why !== undefined) return { kind: 'not-run', reason: why };
    const b = bytes[i] as number[];
    return measured(samples[i] as Sample[], b.length > 0 ? b[b.length - 1] : undefined);
  });
}

/** Apparent size of every regular file under `dir` (0 when it does not exist). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/** Every regular file under `dir`, sorted (for sha256sum over blobs). */
export async function treeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await treeFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

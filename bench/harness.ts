/**
 * The measuring loop: each comparison runs ferry and its peers N times, interleaved
 * (ferry, peer 1, peer 2, ferry, …) so drift on a shared machine hits all sides alike,
 * and folds the samples into one table row per peer. A side that cannot run, or that
 * fails, becomes "not run: <reason>" — never a number.
 */
import { readdir, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FreshFsSet, freshFsNote, type FreshFsMode } from './fresh-fs.js';
import { measure, runChecked, type Sample } from './proc.js';
import { measured, type Outcome, type Row, type Target } from './report.js';

/** One side of a comparison: a command line plus untimed set-up. */
export interface Contender {
  name: string;
  /** Set when this side cannot run here; the reason goes into the table. */
  notRun?: string;
  /**
   * The folder this side writes into (its outputs live below it). With fresh file systems on
   * (bench/fresh-fs.ts), a new ext4 is mounted here before every prepare and unmounted after the
   * sample, and the side runs with TMPDIR in it; otherwise it is a plain folder on the workdir's file system.
   */
  freshFs?: string;
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
  /** Size of each side's fresh file system (bench/fresh-fs.ts freshFsBytes), for the sides with `freshFs`. */
  freshFsBytes?: number;
}

/** How the runs treat the file systems they write to. */
export interface RunOptions {
  /** A folder on the file system the runs write to: synced (syncfs) after each untimed prepare. */
  settle?: string;
  /** Whether sides with `freshFs` get a fresh file system per sample (bench/fresh-fs.ts). */
  fresh?: FreshFsMode;
}

/**
 * Run every comparison `runs` times; returns the table rows. With `opts.settle` (a folder on the
 * file system the runs write to), that file system is synced (syncfs) after each untimed
 * prepare: a prepare that deleted the last run's output (720 MiB at 1G) left a journal
 * commit with the discards of all its blocks (this disk is mounted with `discard`), and
 * the first fsync of the timed command waited for it (0.5–0.8 s measured), which only
 * a side that syncs (ferry) paid, never one that leaves its writes in memory (skopeo).
 * With `opts.fresh` on, each side with a `freshFs` folder writes into a fresh file system per
 * sample (bench/fresh-fs.ts), synced after its prepare too.
 */
export async function runComparisons(list: readonly Comparison[], runs: number, log: (s: string) => void, opts: RunOptions = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of list) {
    const sides = [c.ferry, ...c.peers.map((p) => p.contender)];
    const wantsFresh = sides.some((s) => s.freshFs !== undefined && s.notRun === undefined);
    if (wantsFresh && c.freshFsBytes === undefined) throw new Error(`${c.op}: sides with freshFs need the comparison's freshFsBytes`);
    const fresh = wantsFresh && opts.fresh?.on ? new FreshFsSet(opts.fresh.backing, c.freshFsBytes as number) : undefined;
    const freshNote = wantsFresh && opts.fresh !== undefined ? freshFsNote(opts.fresh, c.freshFsBytes as number) : undefined;
    let ferry: Outcome;
    let outcomes: Outcome[];
    try {
      outcomes = await runSides(c, sides, runs, log, opts.settle, fresh);
      ferry = outcomes[0] as Outcome;
      if (ferry.kind === 'measured' && c.check) {
        // a fast but wrong result must not win a row
        try {
          await fresh?.remountAll(); // every side's output of its last sample
          await c.check();
        } catch (e) {
          ferry = { kind: 'not-run', reason: `wrong output: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
          log(`  ${c.op} ${c.size}: ${ferry.reason}`);
        }
      }
    } finally {
      await fresh?.close();
    }
    c.peers.forEach((p, i) => {
      const peer = outcomes[i + 1] as Outcome;
      const row: Row = { op: c.op, size: c.size, inputBytes: c.inputBytes, ferry, peer: { name: p.contender.name, outcome: peer }, target: p.target };
      const notes = [c.notes?.(ferry, peer, p.contender.name), freshNote].filter((n) => n !== undefined && n !== '').join('; ');
      rows.push(notes ? { ...row, notes } : row);
    });
  }
  return rows;
}

async function runSides(c: Comparison, sides: readonly Contender[], runs: number, log: (s: string) => void, settle?: string, fresh?: FreshFsSet): Promise<Outcome[]> {
  const samples: Sample[][] = sides.map(() => []);
  const bytes: number[][] = sides.map(() => []);
  const failed: (string | undefined)[] = sides.map((s) => s.notRun);
  for (const [i, side] of sides.entries()) {
    if (fresh === undefined || side.freshFs === undefined || failed[i] !== undefined) continue;
    await fresh.attach(side.freshFs).catch((e: unknown) => { failed[i] = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300); });
  }
  for (let run = 0; run < runs; run++) {
    for (const [i, side] of sides.entries()) {
      if (failed[i] !== undefined) continue;
      const dir = side.freshFs;
      try {
        if (dir !== undefined) await (fresh ? fresh.fresh(dir) : mkdir(dir, { recursive: true }));
        // its temporary files (skopeo unpacks the oci-archive into TMPDIR) go to its own file system too
        let env = side.env;
        if (fresh && dir !== undefined) {
          await mkdir(join(dir, 'tmp'));
          env = { ...(side.env ?? process.env), TMPDIR: join(dir, 'tmp') };
        }
        await side.prepare?.();
        if (settle !== undefined) await runChecked('sync', ['-f', settle]);
        // what the prepare put there (the incremental rows' 1.0.0) is on the disk before the clock starts
        if (fresh && dir !== undefined) await runChecked('sync', ['-f', dir]);
        const { stdout, ...s } = await measure(side.argv(), env ? { env } : {});
        samples[i]?.push(s); // the output is read here, not kept in the results
        if (side.bytesWritten) bytes[i]?.push(await side.bytesWritten(stdout));
        log(`  ${c.op} ${c.size} run ${run + 1}/${runs}: ${side.name} ${s.wallSec.toFixed(3)} s, ${(s.maxRssKiB / 1024).toFixed(0)} MiB${s.sysSec !== undefined ? `, sys ${s.sysSec.toFixed(2)} s` : ''}`);
      } catch (e) {
        failed[i] = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300);
        log(`  ${c.op} ${c.size}: ${side.name} ${failed[i]}`);
      } finally {
        // outside the clock: the side's unsynced writes reach the disk in this unmount
        if (fresh && dir !== undefined) {
          await fresh.unmount(dir).catch((e: unknown) => {
            failed[i] ??= `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300);
          });
        }
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

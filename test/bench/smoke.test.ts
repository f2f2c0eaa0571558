/**
 * The smoke bench runs inside the normal suite so the harness never rots. It asserts
 * that the bench ran and wrote well-formed results — never how fast anything was.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/args.js';
import { runBench, type BenchOutput } from '../../bench/bench.js';
import { repoRoot } from '../../bench/ferry.js';
import { hasTool } from '../../bench/proc.js';
import { DRIFT_FAST_OP, DRIFT_OP } from '../../bench/device-drift.js';
import type { BenchResult, Outcome } from '../../bench/report.js';

let dir: string;
let out: BenchOutput;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-bench-smoke-'));
  const opts = parseBenchArgs(['--smoke', '--no-install', '--workdir', join(dir, 'work'), '--results', join(dir, 'results')], repoRoot());
  out = await runBench(opts, () => undefined);
}, 900_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function wellFormed(o: Outcome): void {
  if (o.kind === 'measured') {
    expect(o.samples.length).toBeGreaterThan(0);
    expect(Number.isFinite(o.medianSec) && o.medianSec > 0).toBe(true);
    expect(Number.isFinite(o.medianRssKiB) && o.medianRssKiB > 0).toBe(true);
  } else {
    expect(o.kind).toBe('not-run');
    expect(o.reason.length).toBeGreaterThan(0);
  }
}

describe('npm run bench -- --smoke', () => {
  it('writes a JSON result that lists every operation, each measured or with a reason it did not run', async () => {
    const r = JSON.parse(await readFile(out.jsonPath, 'utf8')) as BenchResult;
    expect(r.schema).toBe('ferry.bench/v1');
    expect(r.options).toMatchObject({ smoke: true, runs: 1, sizes: ['16M'] });
    expect(Number(r.machine['nproc'])).toBeGreaterThan(0);
    const ops = new Set(r.rows.map((row) => row.op));
    for (const op of ['export (oci-archive → media)', 'incremental export 1.0.0 → 1.1.0', 'verify media', 'apply to dir slot', 'apply to block slot (ext4 on loop)', 'device apply, whole pipeline (dir slot)', 'incremental apply 1.0.0 → 1.1.0', 'full apply, zstd layers', DRIFT_OP, DRIFT_FAST_OP, 'signature verification (per manifest, openssl-made CMS)']) {
      expect(ops).toContain(op);
    }
    for (const row of r.rows) {
      wellFormed(row.ferry);
      wellFormed(row.peer.outcome);
    }
  });

  it('really measures the peers that are installed (sha256sum and tar always are)', async () => {
    const peer = (name: string) => out.result.rows.find((r) => r.peer.name.startsWith(name))?.peer.outcome;
    expect(peer('sha256sum')?.kind).toBe('measured');
    expect(peer('tar -xzf')?.kind).toBe('measured');
    expect(peer('openssl dgst -sha256')?.kind).toBe('measured');
    expect(peer('tar -xzf + sync')?.kind).toBe('measured');
    if (await hasTool('skopeo')) expect(peer('skopeo copy')?.kind).toBe('measured');
    if (await hasTool('umoci')) expect(peer('umoci unpack')?.kind).toBe('measured');
  });

  it('measures the incremental apply against a full one, each with the bytes found written on its slot', () => {
    const row = out.result.rows.find((r) => r.op === 'incremental apply 1.0.0 → 1.1.0');
    const [ferry, full] = [row?.ferry, row?.peer.outcome];
    expect(ferry?.kind).toBe('measured');
    expect(full?.kind).toBe('measured');
    if (ferry?.kind !== 'measured' || full?.kind !== 'measured') return;
    // the full write leaves every file new; the incremental one only what 1.1.0 changes
    expect(full.bytesWritten).toBeGreaterThan(out.result.rows.find((r) => r.op === 'apply to dir slot')!.inputBytes * 0.9);
    expect(ferry.bytesWritten).toBeGreaterThan(0);
    expect(ferry.bytesWritten!).toBeLessThan(full.bytesWritten! / 3);
    expect(row!.notes).toMatch(/bytes written to the slot: ferry .+x changed/);
  });

  it('measures ferry device drift (full and --fast) on the slot of the incremental apply, and the same work by standard tools', () => {
    const rows = out.result.rows.filter((r) => r.op === DRIFT_OP || r.op === DRIFT_FAST_OP);
    // full: sha256sum and openssl over every file; --fast: find -printf + getfattr
    expect(rows.map((r) => r.peer.name)).toEqual([
      'sha256sum of every regular file (find | xargs)', 'openssl dgst -sha256 of every regular file (find | xargs)', 'find -printf (lstat of every entry) + getfattr -R',
    ]);
    for (const r of rows) {
      // measured means the check passed too: drift found the slot clean and hashed every file (full) or none (--fast)
      expect(r.ferry.kind).toBe('measured');
      expect(r.peer.outcome.kind).toBe('measured');
      expect(r.target.maxRssMiB).toBe(200);
    }
  });

  it('measures the verified-streaming apply against the whole-blob digest one', () => {
    const row = out.result.rows.find((r) => r.op === 'apply to dir slot: verified streaming');
    expect(row?.ferry.kind).toBe('measured');
    expect(row?.peer.outcome.kind).toBe('measured');
  });

  it('never invents a number for rauc install, which cannot run here', () => {
    const row = out.result.rows.find((r) => r.peer.name === 'rauc install');
    expect(row?.peer.outcome.kind).toBe('not-run');
  });

  it('renders a markdown table with the machine and one line per row', async () => {
    const md = await readFile(out.markdownPath, 'utf8');
    expect(md).toContain('| operation | size | ferry | peer | ratio | ferry MB/s | ferry peak RSS | target | verdict | CPU ratio | notes |');
    expect(md).toMatch(/Machine: .+, \d+ CPUs, .+ RAM/);
    const tableLines = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| operation') && !l.startsWith('| scaling'));
    expect(tableLines.length).toBe(out.result.rows.length + out.result.scaling.length);
  });
});

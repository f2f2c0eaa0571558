/** The bench's pure parts: input planning, medians, verdicts, scaling, profile summary, options. */
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/args.js';
import { parseSize } from '../../bench/inputs.js';
import { summariseCpuProfile } from '../../bench/profile.js';
import { median, measured, renderMarkdown, scalingOf, verdictOf, type BenchResult, type Row } from '../../bench/report.js';
import { planRootfs, plannedBytes, planUpdate } from '../../bench/rootfs.js';

const row = (ferrySec: number, peerSec: number, rssMiB: number, target: Row['target']): Row => ({
  op: 'export', size: '16M', inputBytes: 16e6,
  ferry: measured([{ wallSec: ferrySec, maxRssKiB: rssMiB * 1024 }]),
  peer: { name: 'skopeo copy', outcome: measured([{ wallSec: peerSec, maxRssKiB: 1024 }]) },
  target,
});

describe('planRootfs', () => {
  it('plans the same tree for the same seed and a different one for another seed', () => {
    expect(planRootfs(7, 16 * 2 ** 20)).toEqual(planRootfs(7, 16 * 2 ** 20));
    expect(planRootfs(8, 16 * 2 ** 20)).not.toEqual(planRootfs(7, 16 * 2 ** 20));
  });

  it('sizes the tree close to the request with small files, symlinks and a hardlink', () => {
    const plan = planRootfs(1, 64 * 2 ** 20);
    const bytes = plannedBytes(plan);
    expect(bytes).toBeGreaterThan(60 * 2 ** 20);
    expect(bytes).toBeLessThan(72 * 2 ** 20);
    expect(plan.filter((e) => e.type === 'file' && e.size < 16 * 1024).length).toBeGreaterThan(500);
    expect(plan.some((e) => e.type === 'symlink')).toBe(true);
    expect(plan.filter((e) => e.type === 'hardlink')).toHaveLength(1);
    expect(new Set(plan.map((e) => e.path)).size).toBe(plan.length);
  });

  it('updates only app and config files for 1.1.0, with changes, additions and deletions', () => {
    const plan = planRootfs(1, 64 * 2 ** 20);
    const u = planUpdate(1, plan);
    expect(u.changed.length).toBeGreaterThan(0);
    expect(u.added.length).toBeGreaterThan(0);
    expect(u.deleted.length).toBeGreaterThan(0);
    for (const p of [...u.changed.map((e) => e.path), ...u.added.map((e) => e.path), ...u.deleted]) expect(p).toMatch(/^(opt|etc)\//);
  });
});

describe('report', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('says a row meets its target only when ratio and RSS both do', () => {
    expect(verdictOf(row(1, 2, 50, { maxRatio: 0.6, maxRssMiB: 200 }))).toBe('meets');
    expect(verdictOf(row(1.5, 2, 50, { maxRatio: 0.6, maxRssMiB: 200 }))).toMatch(/^misses: ratio 0.75 > 0.6/);
    expect(verdictOf(row(1, 2, 300, { maxRatio: 0.6, maxRssMiB: 200 }))).toMatch(/RSS 300 MiB > 200/);
    expect(verdictOf(row(0.03, 1, 50, { maxMs: 20 }))).toMatch(/misses: 30.0 ms ≥ 20 ms/);
  });

  it('does not give a verdict when ferry did not run', () => {
    const r: Row = { ...row(1, 1, 1, { maxRatio: 1 }), ferry: { kind: 'not-run', reason: 'ferry: not available yet' } };
    expect(verdictOf(r)).toMatch(/^n\/a/);
    const md = renderMarkdown({ schema: 'ferry.bench/v1', date: 'd', machine: { cpu: 'x', nproc: 2, memory: '1 GiB', os: 'o', node: '24' }, options: { sizes: ['16M'], runs: 1, smoke: true, seed: 1 }, notes: [], rows: [r], scaling: [] } satisfies BenchResult);
    expect(md).toContain('not run: ferry: not available yet');
  });

  it('measures scaling as time per byte between sizes', () => {
    const a = { ...row(1, 1, 50, {}), size: '256M', inputBytes: 256 };
    const b = { ...row(4.4, 1, 52, {}), size: '1G', inputBytes: 1024 };
    const [s] = scalingOf([a, b], [{ label: '256M', bytes: 256 }, { label: '1G', bytes: 1024 }]);
    expect(s?.timePerByteRatio).toBeCloseTo(1.1);
    expect(s?.rssToMiB).toBeCloseTo(52);
  });
});

describe('summariseCpuProfile', () => {
  it('ranks functions by self time', () => {
    const p = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
        { id: 2, callFrame: { functionName: 'hashBlob', url: 'file:///x/dist/src/oci/digest.js', lineNumber: 9 } },
        { id: 3, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      ],
      samples: [2, 2, 3, 2], timeDeltas: [1000, 1000, 1000, 1000], startTime: 0, endTime: 4000,
    };
    const text = summariseCpuProfile(p, 't');
    const lines = text.split('\n').filter((l) => l.includes('%'));
    expect(lines[0]).toMatch(/75\.0%.*hashBlob src\/oci\/digest\.js:10/);
    expect(lines[1]).toMatch(/25\.0%.*\(idle\)/);
  });
});

describe('bench options', () => {
  it('defaults to 256M and 1G with 3 runs, and smoke to one 16M run', () => {
    expect(parseBenchArgs([], '/r')).toMatchObject({ sizes: ['256M', '1G'], runs: 3, smoke: false, workdir: '/r/bench/work' });
    expect(parseBenchArgs(['--smoke'], '/r')).toMatchObject({ sizes: ['16M'], runs: 1 });
    expect(parseBenchArgs(['--sizes', '256M,1G,4G', '--runs', '5'], '/r')).toMatchObject({ sizes: ['256M', '1G', '4G'], runs: 5 });
    expect(() => parseBenchArgs(['--runs', '0'], '/r')).toThrow(/positive integer/);
    expect(() => parseBenchArgs(['--fast'], '/r')).toThrow(/unknown option/);
    expect(parseBenchArgs([], '/r').campaignSticks).toEqual([{ kind: 'folders' }]);
    expect(parseBenchArgs(['--campaign-sticks', 'folders,tmpfs,loop:40,loopram:20'], '/r').campaignSticks).toEqual([{ kind: 'folders' }, { kind: 'tmpfs' }, { kind: 'loop', mbps: 40, ram: false }, { kind: 'loop', mbps: 20, ram: true }]);
    expect(() => parseBenchArgs(['--campaign-sticks', 'loop'], '/r')).toThrow(/loop:MBPS/);
  });

  it('reads sizes as binary units', () => {
    expect(parseSize('16M')).toBe(16 * 2 ** 20);
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(() => parseSize('lots')).toThrow(/bad size/);
  });
});

/** The write rows' fresh file systems: their size, mkfs's arguments, the flag, and (as root) a real row through the harness. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/args.js';
import { FreshFsSet, freshFsBytes, mkfsArgs, probeFreshFs } from '../../bench/fresh-fs.js';
import { runComparisons, type Comparison, type Contender } from '../../bench/harness.js';
import { runProc } from '../../bench/proc.js';

const MiB = 2 ** 20;

describe('freshFsBytes', () => {
  it('fits the largest side with margin, in whole 4 MiB', () => {
    for (const written of [191_050_689, 759_177_370, 1_160_028_782, 1_519_914_121]) {
      const b = freshFsBytes(written);
      expect(b).toBeGreaterThanOrEqual(written * 1.3 + 256 * MiB);
      expect(b % (4 * MiB)).toBe(0);
    }
  });

  it('keeps a real size out of mke2fs\'s "small" profile (under 512 MiB: 1 KiB blocks)', () => {
    expect(freshFsBytes(191_050_689)).toBe(1024 * MiB);
    expect(freshFsBytes(64 * MiB)).toBe(1024 * MiB);
  });

  it('gives the smoke run\'s few MiB a small file system', () => {
    const b = freshFsBytes(16 * MiB);
    expect(b).toBeGreaterThanOrEqual(16 * MiB * 1.3 + 64 * MiB);
    expect(b).toBeLessThan(128 * MiB);
  });
});

describe('mkfsArgs', () => {
  it('keeps the default layout (no -T, -O or -J) and neither discards nor zeroes the device', () => {
    const a = mkfsArgs('/dev/loop7');
    expect(a.at(-1)).toBe('/dev/loop7');
    expect(a).not.toContain('-T');
    expect(a).not.toContain('-O');
    expect(a).not.toContain('-J');
    const ext = a[a.indexOf('-E') + 1]?.split(',') ?? [];
    expect(ext).toEqual(expect.arrayContaining(['nodiscard', 'lazy_itable_init=1', 'lazy_journal_init=1']));
  });
});

describe('--no-fresh-fs', () => {
  it('is on by default and off with the flag', () => {
    expect(parseBenchArgs([], '/r').freshFs).toBe(true);
    expect(parseBenchArgs(['--no-fresh-fs'], '/r').freshFs).toBe(false);
  });

  it('makes the probe say so without touching a loop device', async () => {
    expect(await probeFreshFs('/nonexistent', false)).toEqual({ on: false, why: '--no-fresh-fs' });
  });
});

const canMount = process.getuid?.() === 0 && existsSync('/dev/loop-control');

describe.skipIf(!canMount)('a row with fresh file systems (root)', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-bench-fresh-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  /** A side that fails unless its folder is a fresh mount (only lost+found and the empty tmp its TMPDIR names), then writes a file there. */
  const side = (name: string, folder: string): Contender => ({
    name, freshFs: folder,
    prepare: async () => {
      const left = (await readdir(folder)).filter((f) => f !== 'lost+found' && f !== 'tmp');
      if (existsSync(join(folder, 'tmp'))) left.push(...(await readdir(join(folder, 'tmp'))));
      if (left.length > 0) throw new Error(`not fresh: ${left.join(', ')}`);
    },
    argv: () => ['sh', '-c', 'mountpoint -q "$0" && [ "$TMPDIR" = "$0/tmp" ] && head -c 1048576 /dev/urandom > "$0/out" && : > "$TMPDIR/t"', folder],
  });

  it('gives every side a new file system per sample, shows the last ones to the check, and leaves no mount or loop device', async () => {
    const backing = join(dir, 'backing');
    const mode = await probeFreshFs(backing, true);
    expect(mode.on).toBe(true);
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    let checked: string[] = [];
    const c: Comparison = {
      op: 'fresh', size: '1M', inputBytes: MiB, freshFsBytes: freshFsBytes(MiB),
      ferry: side('a', a), peers: [{ contender: side('b', b), target: {} }],
      check: async () => { checked = [...(await readdir(a)), ...(await readdir(b))].filter((f) => f === 'out'); },
    };
    const rows = await runComparisons([c], 2, () => undefined, { fresh: mode });
    expect(rows[0]?.ferry.kind).toBe('measured');
    expect(rows[0]?.peer.outcome.kind).toBe('measured');
    expect(rows[0]?.notes).toMatch(/fresh ext4/);
    expect(checked).toEqual(['out', 'out']);
    for (const f of [a, b]) expect((await runProc('mountpoint', ['-q', f])).code).not.toBe(0);
    const loops = await runProc('losetup', ['-a']);
    expect(loops.stdout).not.toContain(backing);
    expect(await readdir(backing)).toEqual([]);
  });

  it('leaves the backing file allocated and written: mkfs neither discards nor zeroes it (no extent work on the root fs in the clock)', async () => {
    const backing = join(dir, 'backing');
    const set = new FreshFsSet(backing, 256 * MiB);
    try {
      await set.fresh(join(dir, 'm'));
      const [file] = await readdir(backing);
      const extents = (await runProc('filefrag', ['-v', join(backing, file as string)])).stdout.split('\n');
      // mke2fs still zaps the device's last 64 KiB; a discard or zeroed tables would show as holes or many unwritten extents
      expect(extents.filter((l) => l.includes('unwritten')).length).toBeLessThanOrEqual(1);
      expect((await runProc('findmnt', ['-no', 'OPTIONS', join(dir, 'm')])).stdout).toContain('noinit_itable');
    } finally {
      await set.close();
    }
  });

  it('without it, the same sides write into plain folders (and fail the mount test)', async () => {
    const a = join(dir, 'a');
    const c: Comparison = { op: 'plain', size: '1M', inputBytes: MiB, freshFsBytes: freshFsBytes(MiB), ferry: side('a', a), peers: [] };
    await runComparisons([c], 1, () => undefined, { fresh: { on: false, why: '--no-fresh-fs' } });
    expect(existsSync(a)).toBe(true);
    expect(existsSync(join(a, 'out'))).toBe(false);
  });
});

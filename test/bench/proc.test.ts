/** The bench's measuring: both RSS methods see a child that touches 80 MiB. */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { measure, rssMethod, runProc } from '../../bench/proc.js';

const hog = [process.execPath, '-e', 'const a = Buffer.alloc(80 * 1024 * 1024, 1); setTimeout(() => a.length, 100)'];
const saved = rssMethod.current;
afterEach(() => { rssMethod.current = saved; });

describe('measure', () => {
  it('reads the peak RSS of a child from GNU time', async () => {
    if (!existsSync('/usr/bin/time')) return expect(rssMethod.current).toBe('proc-poll');
    rssMethod.current = 'gnu-time';
    const s = await measure(hog);
    expect(s.maxRssKiB).toBeGreaterThan(80 * 1024);
    expect(s.wallSec).toBeGreaterThan(0);
  });

  it('falls back to polling /proc when GNU time is missing', async () => {
    rssMethod.current = 'proc-poll';
    const s = await measure(hog);
    expect(s.maxRssKiB).toBeGreaterThan(80 * 1024);
  });

  it('fails with the command and its stderr when the command fails', async () => {
    await expect(measure(['sh', '-c', 'echo broken stick >&2; exit 5'])).rejects.toThrow(/exited 5: broken stick/);
  });
});

describe('runProc', () => {
  // 5 MiB of stdout: more than the default cap, as `find -printf` of a 4G slot's 81,101 entries (4.4 MB)
  const big = [process.execPath, ['-e', "process.stdout.write('x'.repeat(5 * 1024 * 1024))"]] as const;

  it('caps stdout at 4 MiB by default', async () => {
    const r = await runProc(...big);
    expect(r.stdout.length).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(r.stdout.length).toBeLessThan(5 * 1024 * 1024);
  });

  it('keeps all of it when the caller asks (sameTree compares whole listings)', async () => {
    const r = await runProc(...big, { maxStdout: Infinity });
    expect(r.stdout.length).toBe(5 * 1024 * 1024);
  });
});

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

// Finding 4 of issue 9: the layer gate kept every ancestor path of every entry, so 3,000
// deep whiteouts ran ferry out of heap. Each case runs in its own node process (from dist/,
// built by `npm test`) so its peak RSS is the gate's alone. Measured on the dev machine:
// 1,000,000 entries peak at about 145 MiB (node itself is about 45 MiB); the 3,000 deep
// whiteouts stop with LIMIT_EXCEEDED at about 143 MiB (before: out of heap after minutes).
const CHILD = path.resolve('dist/test/device/extract/gate-memory-child.js');
const LIMIT_MIB = 200;

function run(mode: 'many' | 'deep'): { code: string; entries: number; maxRssMiB: number } {
  const r = spawnSync(path.resolve('node_modules/.bin/node'), [CHILD, mode], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { code: string; entries: number; maxRssMiB: number };
}

describe('LayerGate memory is bounded', () => {
  it(`admits 1,000,000 entries (files, directories, whiteouts over a lower layer) under ${LIMIT_MIB} MiB RSS`, () => {
    const r = run('many');
    expect(r).toMatchObject({ code: 'OK', entries: 1_000_000 });
    expect(r.maxRssMiB).toBeLessThan(LIMIT_MIB);
  });

  it(`stops 3,000 whiteouts 2,000 components deep with LIMIT_EXCEEDED under ${LIMIT_MIB} MiB RSS`, () => {
    const r = run('deep');
    expect(r.code).toBe('LIMIT_EXCEEDED');
    expect(r.entries).toBeLessThan(3000);
    expect(r.maxRssMiB).toBeLessThan(LIMIT_MIB);
  });
});

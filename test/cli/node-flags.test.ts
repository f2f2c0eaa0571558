/**
 * Every ferry process runs with src/node-flags.ts's Node options: the `ferry` and `ferry-tui`
 * scripts through their `#!` line (source and built), the device executable through its SEA
 * config's execArgv (as written by the real build), so a bench or a device never measures a
 * different heap than the other.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { NODE_FLAGS, RUNTIME_V8_FLAGS } from '../../src/node-flags.js';
import { ensureDeviceExecutable } from '../helpers/device-executable.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SHEBANG = `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`;
const firstLine = (f: string) => readFileSync(path.join(REPO, f), 'utf8').split('\n', 1)[0];

describe('Node options', () => {
  it('are the #! line of both commands, in source and as built by tsc', () => {
    expect(NODE_FLAGS).toContain('--max-semi-space-size=4');
    for (const f of ['src/cli/main.ts', 'tui/main.ts', 'dist/src/cli/main.js', 'dist/tui/main.js']) expect(firstLine(f), f).toBe(SHEBANG);
  });

  it('set at run time, fix the old generation\'s growth as on the command line (the heap stays near its live set)', () => {
    expect(RUNTIME_V8_FLAGS).toContain('--heap-growing-percent=25');
    // a ~30 MiB live set and a stream of objects that are promoted, then die: the peak heap the GCs let through
    const script = [
      `import { applyRuntimeFlags } from ${JSON.stringify(path.join(REPO, 'dist/src/node-flags.js'))}; applyRuntimeFlags();`,
      'const live = []; for (let i = 0; i < 200000; i++) live.push({ a: i, b: "x" + i, c: [i, i + 1] });',
      'const ring = new Array(50000); let peak = 0;',
      'for (let g = 0; g < 2000000; g++) { ring[g % 50000] = { a: g, b: [g, g] }; if (g % 20000 === 0) peak = Math.max(peak, process.memoryUsage().heapTotal); }',
      'process.stdout.write(String(peak + live.length * 0));',
    ].join('\n');
    const peak = Number(spawnSync(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', script], { encoding: 'utf8' }).stdout);
    // measured on the bench VM: 71-73 MiB with it, 161-162 MiB without (V8 let the heap grow ~2.3x)
    expect(peak).toBeGreaterThan(20 * 1024 * 1024);
    expect(peak).toBeLessThan(110 * 1024 * 1024);
  });

  it('are the device executable execArgv', { timeout: 15 * 60_000 }, () => {
    ensureDeviceExecutable();
    const config = JSON.parse(readFileSync(path.join(REPO, 'dist/device/build', process.arch, 'sea-config.json'), 'utf8')) as { execArgv?: string[] };
    expect(config.execArgv).toEqual([...NODE_FLAGS]);
  });
});

/**
 * Every ferry process runs with src/node-flags.ts's Node options: the `ferry` and `ferry-tui`
 * scripts through their `#!` line (source and built), the device executable through its SEA
 * config's execArgv (as written by the real build), so a bench or a device never measures a
 * different heap than the other.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { ensureDeviceExecutable } from '../helpers/device-executable.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SHEBANG = `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`;
const firstLine = (f: string) => readFileSync(path.join(REPO, f), 'utf8').split('\n', 1)[0];

describe('Node options', () => {
  it('are the #! line of both commands, in source and as built by tsc', () => {
    expect(NODE_FLAGS).toContain('--max-semi-space-size=4');
    // the incremental apply at a 4 GiB image's entry count peaked at 222-268 MiB without it (target 200)
    expect(NODE_FLAGS).toContain('--heap-growing-percent=25');
    for (const f of ['src/cli/main.ts', 'tui/main.ts', 'dist/src/cli/main.js', 'dist/tui/main.js']) expect(firstLine(f), f).toBe(SHEBANG);
  });

  it('are the device executable execArgv', { timeout: 15 * 60_000 }, () => {
    ensureDeviceExecutable();
    const config = JSON.parse(readFileSync(path.join(REPO, 'dist/device/build', process.arch, 'sea-config.json'), 'utf8')) as { execArgv?: string[] };
    expect(config.execArgv).toEqual([...NODE_FLAGS]);
  });
});

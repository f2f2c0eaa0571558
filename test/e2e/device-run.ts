/** Running the built `ferry` CLI (Node 24 from node_modules) against a test device. */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { TestDevice } from '../helpers/device.js';

export const NODE = path.resolve('node_modules/.bin/node');
/** FERRY_E2E_MAIN lets a run use a private build while others rebuild dist/ in the same checkout. */
export const MAIN = path.resolve(process.env.FERRY_E2E_MAIN ?? 'dist/src/cli/main.js');

/** Build dist/ when it is missing (npm test builds first; a bare vitest run may not). */
export function ensureBuilt(): void {
  if (!existsSync(MAIN)) execFileSync(path.resolve('node_modules/.bin/tsc'), ['-p', '.'], { stdio: 'inherit' });
}

/** Run `ferry <args> --config <device config>` with the device's kernel command line. */
export function ferry(dev: TestDevice, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(NODE, [MAIN, ...args, '--config', dev.configFile], {
    encoding: 'utf8',
    env: { ...process.env, FERRY_CMDLINE_FILE: dev.cmdlineFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}

/** Run `ferry <args>` at headquarters (no device): exit code, stdout and stderr. */
export function hq(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(NODE, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * Test helper: the device's single executable (dist/device/ferry), rebuilt by
 * `node scripts/build-device.ts` when any source it bundles is newer than it.
 * One build at a time across vitest workers (flock), since a build rewrites the file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
/** Where npm run build:device leaves the executable for this machine. */
export const DEVICE_EXE = path.join(REPO, 'dist/device/ferry');
const NODE = path.join(REPO, 'node_modules/.bin/node');

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, e)));
  return newest;
}

function stale(): boolean {
  if (!existsSync(DEVICE_EXE)) return true;
  const built = statSync(DEVICE_EXE).mtimeMs;
  const inputs = ['src', 'tui', 'scripts/build-device.ts', 'package-lock.json'].map((p) => path.join(REPO, p));
  return inputs.some((p) => newestMtime(p) > built);
}

/** Build dist/device/ferry if it is missing or older than its sources; returns its path. */
export function ensureDeviceExecutable(): string {
  if (!stale()) return DEVICE_EXE;
  // Node 24 runs the build script's TypeScript directly: no tsc, so dist/ is not rewritten under
  // other test files that run the built CLI at the same time
  const script = `[ -n "$(find src tui scripts/build-device.ts package-lock.json -newer dist/device/ferry -print -quit 2>/dev/null)" ] || [ ! -e dist/device/ferry ] || exit 0; "$1" scripts/build-device.ts`;
  mkdirSync(path.join(REPO, 'dist'), { recursive: true });
  execFileSync('flock', [path.join(REPO, 'dist/.device-build.lock'), 'sh', '-c', script, 'sh', NODE], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60_000 });
  return DEVICE_EXE;
}

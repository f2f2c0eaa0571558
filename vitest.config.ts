import * as os from 'node:os';
import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

/** `ferry export` keeps HQ's chunk cache in ~/.cache/ferry: tests use one of their own per run, removed at the end (test/global-setup.ts). */
const cacheDir = path.join(os.tmpdir(), `ferry-test-chunk-cache-${process.pid}`);
process.env.FERRY_TEST_CACHE_DIR = cacheDir;

// Tests touch real loop devices, mounts and tmux sessions; forks keep each file in its own process.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    env: { FERRY_CACHE_DIR: cacheDir },
    globalSetup: ['test/global-setup.ts'],
  },
});

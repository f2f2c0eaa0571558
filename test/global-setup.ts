/** Once per test run: remove the run's own chunk cache (vitest.config.ts) when the run ends, so runs leave no folder in /tmp. */
import { rm } from 'node:fs/promises';

export default function setup(): () => Promise<void> {
  const dir = process.env.FERRY_TEST_CACHE_DIR;
  return async () => {
    if (dir !== undefined && dir.includes('ferry-test-chunk-cache-')) await rm(dir, { recursive: true, force: true });
  };
}

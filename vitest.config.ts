import { defineConfig } from 'vitest/config';

// Tests touch real loop devices, mounts and tmux sessions; forks keep each file in its own process.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});

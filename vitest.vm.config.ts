import { defineConfig } from 'vitest/config';

// The VM tests (test/vm/*.vm.ts, `npm run test:vm`): real GRUB, kernel and ferry in QEMU.
// Two files at a time (one QEMU each), long timeouts: a boot under TCG on a busy
// 2-core machine takes a minute or more.
export default defineConfig({
  test: {
    include: ['test/vm/**/*.vm.ts'],
    globalSetup: ['test/vm/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60 * 60_000,
    hookTimeout: 30 * 60_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});

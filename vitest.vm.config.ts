import { defineConfig } from 'vitest/config';

// The VM tests (test/vm/*.vm.ts, `npm run test:vm`): real GRUB, kernel and ferry in QEMU.
// One QEMU at a time (the machine is shared and TCG takes a whole core per virtual CPU);
// long timeouts: a boot under TCG takes 20 s on an idle 2-core machine, minutes on a busy one.
export default defineConfig({
  test: {
    include: ['test/vm/**/*.vm.ts'],
    globalSetup: ['test/vm/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60 * 60_000,
    hookTimeout: 30 * 60_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});

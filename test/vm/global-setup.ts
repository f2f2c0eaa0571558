/**
 * Builds the virtual kiosk once for every VM test file (samples/vm/build-image.sh; the
 * images are cached in /var/cache/ferry-vm) and hands its folder to the files.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildKiosk } from './kiosk.js';

let dir: string | undefined;

/** Build the kiosk into a temp folder and provide it as `kioskDir`. */
export function setup(project: TestProject): void {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-test-'));
  const started = Date.now();
  buildKiosk(dir, process.env.FERRY_VM_FLAVOUR === 'uefi' ? 'uefi' : 'bios');
  console.log(`ferry-vm: kiosk images ready in ${((Date.now() - started) / 1000).toFixed(0)} s (${dir})`);
  project.provide('kioskDir', dir);
}

/** Remove the temp folder (the cache stays). */
export function teardown(): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    kioskDir: string;
  }
}

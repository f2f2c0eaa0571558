/**
 * Builds the virtual kiosk once for every VM test file (samples/vm/build-image.sh; the
 * images are cached in /var/cache/ferry-vm), then boots it once to make the `applied`
 * snapshot the files share (one boot serves several checks): a fresh device boots A,
 * boot-check adopts A, the stick's kiosk 1.1.0 is applied inside the guest, and the kiosk
 * powers off instead of rebooting. Its disk and stick are kept beside the build as
 * applied.disk.img / applied.stick.img (journals replayed), its serial events as
 * applied.events.json (scenario 1 asserts them; the power-cut test learns the apply's duration).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildKiosk, newCase, readState, setScenario, Vm } from './kiosk.js';

let dir: string | undefined;

/** Build the kiosk into a temp folder, make the applied snapshot, provide the folder as `kioskDir`. */
export async function setup(project: TestProject): Promise<void> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-helper-test-'));
  let started = Date.now();
  const build = buildKiosk(dir, process.env.FERRY_VM_FLAVOUR === 'uefi' ? 'uefi' : 'bios');
  console.log(`ferry-vm: kiosk images ready in ${((Date.now() - started) / 1000).toFixed(0)} s (${dir})`);
  started = Date.now();
  const c = newCase(build, dir, 'snapshot');
  setScenario(c, ['apply-stop']);
  const vm = new Vm(c);
  await vm.waitExit(20 * 60_000);
  fs.writeFileSync(path.join(dir, 'applied.events.json'), JSON.stringify(vm.eventTimes()));
  const st = readState(c); // replays the journals: the copies start clean
  if (st.slots.B.status !== 'pending') throw new Error(`ferry-vm: the applied snapshot did not apply the stick (B ${st.slots.B.status}); ${vm.tail()}`);
  fs.renameSync(c.disk, path.join(dir, 'applied.disk.img'));
  fs.renameSync(c.stick, path.join(dir, 'applied.stick.img'));
  console.log(`ferry-vm: applied snapshot ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
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

/**
 * A loop device over a sparse file in the scratch dir, for the block-slot row.
 * Always detached by `detach()` (the bench calls it in a finally block).
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { runChecked, runProc } from './proc.js';

/** Devices attached and not yet detached, released synchronously if the process exits early. */
const attached = new Set<string>();
let exitHook = false;

function releaseOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const device of attached) {
      spawnSync('umount', [device], { stdio: 'ignore' });
      spawnSync('losetup', ['-d', device], { stdio: 'ignore' });
    }
  });
}

/** An attached loop device, or why none could be attached. */
export type LoopDevice = { device: string; file: string; detach: () => Promise<void> } | { why: string };

/** Attach a loop device over a new sparse file of `bytes` bytes. */
export async function attachLoop(file: string, bytes: number): Promise<LoopDevice> {
  try {
    await runChecked('truncate', ['-s', String(bytes), file]);
    const device = (await runChecked('losetup', ['--find', '--show', file])).stdout.trim();
    if (!device.startsWith('/dev/loop')) throw new Error(`losetup printed "${device}"`);
    attached.add(device);
    releaseOnExit();
    return {
      device, file,
      detach: async () => {
        await runProc('umount', [device]); // only if something was left mounted
        await runProc('losetup', ['-d', device]);
        attached.delete(device);
        await rm(file, { force: true });
      },
    };
  } catch (e) {
    await rm(file, { force: true });
    return { why: `no loop device here (${e instanceof Error ? e.message.slice(0, 120) : String(e)})` };
  }
}

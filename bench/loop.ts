/**
 * Loop devices over files in the scratch dir: the block-slot row's device, the campaign's loop
 * sticks and the fresh file systems of the write rows (bench/fresh-fs.ts). Always detached by
 * `detach()` (the bench calls it in a finally block), and by an exit hook when the bench is
 * stopped early (bench/run.ts turns SIGINT/SIGTERM into process.exit).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { runChecked, runProc } from './proc.js';

/** Devices attached and not yet detached (device → backing file), released synchronously if the process exits early. */
const attached = new Map<string, string>();
/** Backing files being written (no device yet): removed too if the process exits early. */
const making = new Set<string>();
let exitHook = false;

function releaseOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const [device, file] of attached) {
      // a child still writing into the mount (a SIGTERM reaches the bench, not its children) keeps
      // it busy: then detach it lazily, and losetup -d frees the device once the last user closes it
      if (spawnSync('umount', [device], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', device], { stdio: 'ignore' });
      spawnSync('losetup', ['-d', device], { stdio: 'ignore' });
      rmSync(file, { force: true });
    }
    for (const file of making) rmSync(file, { force: true });
  });
}

/** An attached loop device, or why none could be attached. */
export type LoopDevice = { device: string; file: string; detach: () => Promise<void> } | { why: string };

/** How the backing file is made and read. */
export interface LoopOptions {
  /**
   * Write every byte of the file once (zeros, O_DIRECT) instead of leaving it sparse, so the
   * runs overwrite blocks the disk's file system already holds and never allocate there.
   */
  preallocate?: boolean;
  /** The loop device reads and writes its file with O_DIRECT (no second copy in the page cache). */
  directIo?: boolean;
}

/** Attach a loop device over a new file of `bytes` bytes (sparse unless `opts.preallocate`). */
export async function attachLoop(file: string, bytes: number, opts: LoopOptions = {}): Promise<LoopDevice> {
  releaseOnExit();
  making.add(file);
  try {
    if (opts.preallocate) {
      const mib = Math.ceil(bytes / 2 ** 20);
      // fsync at the end: the zeros are on the disk (past the host's cache) before any sample starts
      await runChecked('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'oflag=direct', 'conv=fsync', 'status=none']);
    } else {
      await runChecked('truncate', ['-s', String(bytes), file]);
    }
    const device = (await runChecked('losetup', ['--find', '--show', ...(opts.directIo ? ['--direct-io=on'] : []), file])).stdout.trim();
    if (!device.startsWith('/dev/loop')) throw new Error(`losetup printed "${device}"`);
    attached.set(device, file);
    making.delete(file);
    return {
      device, file,
      detach: async () => {
        // only if something was left mounted; lazily when still busy, so the device can go
        if ((await runProc('umount', [device])).code !== 0) await runProc('umount', ['-l', device]);
        await runProc('losetup', ['-d', device]);
        attached.delete(device);
        await rm(file, { force: true });
      },
    };
  } catch (e) {
    await rm(file, { force: true });
    making.delete(file);
    return { why: `no loop device here (${e instanceof Error ? e.message.slice(0, 120) : String(e)})` };
  }
}

/**
 * The bench's apply rows (the library's slot writes against umoci, tar and the same steps by
 * shell), and the tree comparison that checks every write row's result against a reference.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Comparison } from './harness.js';
import type { SizeInputs } from './inputs.js';
import type { LoopDevice } from './loop.js';
import { runChecked } from './proc.js';
import { freshFsBytes } from './fresh-fs.js';
import { ferrySide, type OpsContext, reset, RSS_TARGET_MIB, sideDir } from './ops.js';

function layerFiles(inputs: SizeInputs): string[] {
  return inputs.image.v1.layers.map((l) => join(inputs.layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));
}

/** Apply the image to a `dir` slot vs `umoci unpack` and vs `tar -xzf` of each layer. */
export function applyDirComparison(ctx: OpsContext): Comparison {
  const { inputs, steps, peers } = ctx;
  const ferryDir = sideDir(ctx, 'apply-dir', 'ferry');
  const slot = join(ferryDir, 'slot');
  const umociDir = sideDir(ctx, 'apply-dir', 'umoci');
  const umociOut = join(umociDir, 'bundle');
  const tarDir = sideDir(ctx, 'apply-dir', 'tar');
  const tarOut = join(tarDir, 'rootfs');
  const layers = layerFiles(inputs);
  const script = ['set -e', ...layers.map((_, i) => `tar --numeric-owner -xzf "$${i + 1}" -C "$0"`)].join('; ');
  return {
    op: 'apply to dir slot',
    size: inputs.sizeLabel,
    inputBytes: inputs.rootfsBytes,
    ferry: ferrySide(steps.applyWhy, 'ferry apply (dir slot)', () => steps.applyArgv(inputs, slot), { freshFs: ferryDir, prepare: () => steps.applyPrepare(inputs, slot) }),
    peers: [
      {
        contender: { name: 'umoci unpack', notRun: peers.umoci, freshFs: umociDir, prepare: () => rm(umociOut, { recursive: true, force: true }),
          argv: () => ['umoci', 'unpack', '--image', `${inputs.layout}:1.0.0`, umociOut] },
        target: { maxRatio: 1.0, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'tar -xzf (layers in order)', notRun: peers.tar, freshFs: tarDir, prepare: () => reset(tarOut),
          argv: () => ['sh', '-c', script, tarOut, ...layers] },
        target: { maxRatio: 1.5, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: () => 'MB/s counts unpacked rootfs bytes',
    freshFsBytes: freshFsBytes(inputs.rootfsBytes),
    check: () => sameTree(slot, tarOut),
  };
}

/**
 * The cost of verified streaming (issue: at most 10%): the dir-slot write with every chunk
 * checked against the chunk index before it is decompressed, against the same write with the
 * whole-blob digest checked while streaming (ferry before the chunk index), in the same run.
 */
export function verifiedStreamingComparison(ctx: OpsContext): Comparison {
  const { inputs, scratch, steps } = ctx;
  // node, its flags (src/node-flags.ts) and bench/ferry-lib.js: everything before the sub-command
  const lib = steps.applyArgv(inputs, 'x');
  const prefix = lib.slice(0, lib.indexOf('apply-dir'));
  const index = join(scratch, 'chunk-index.json');
  const newDir = sideDir(ctx, 'apply-verified', 'chunks');
  const slotNew = join(newDir, 'slot');
  const oldDir = sideDir(ctx, 'apply-verified', 'whole-blob');
  const slotOld = join(oldDir, 'slot');
  return {
    op: 'apply to dir slot: verified streaming',
    size: inputs.sizeLabel,
    inputBytes: inputs.rootfsBytes,
    ferry: ferrySide(steps.applyWhy, 'ferry apply, chunk-verified (now)', () => [...prefix, 'apply-dir-verified', inputs.layout, '1.0.0', slotNew, index], {
      freshFs: newDir,
      prepare: async () => {
        await rm(slotNew, { recursive: true, force: true });
        await runChecked(prefix[0] as string, [...prefix.slice(1), 'chunk-index', inputs.layout, '1.0.0', index]);
      },
    }),
    peers: [
      {
        contender: { name: 'ferry apply, whole-blob digest (before)', notRun: steps.applyWhy, freshFs: oldDir, prepare: () => rm(slotOld, { recursive: true, force: true }),
          argv: () => [...prefix, 'apply-dir', inputs.layout, '1.0.0', slotOld] },
        target: { maxRatio: 1.1, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: () => 'same write; only how layer bytes are verified differs',
    freshFsBytes: freshFsBytes(inputs.rootfsBytes),
    check: () => sameTree(slotNew, slotOld),
  };
}

/** Throw unless two trees hold the same names, types, modes, link counts, sizes (not of directories), owners, link targets and bytes. */
export async function sameTree(a: string, b: string): Promise<void> {
  // a directory's size is not the image's: ext4 never shrinks a directory, so a slot written
  // incrementally keeps the size its directories once had (the file names in them are compared)
  // the whole listing: at the 4G entry count it is ~4.4 MB, and runProc's default 4 MiB cap cut the two
  // sides at different entries (find's order differs), so equal trees were reported different
  const list = async (dir: string) => (await runChecked('find', ['.', '(', '-type', 'd', '-printf', '%y %m %n - %U:%G %l %p\\n', ')', '-o', '-printf', '%y %m %n %s %U:%G %l %p\\n'], { cwd: dir, maxStdout: Infinity })).stdout.split('\n').sort().join('\n');
  const [la, lb] = await Promise.all([list(a), list(b)]);
  if (la !== lb) {
    const first = la.split('\n').find((l, i) => l !== lb.split('\n')[i]);
    throw new Error(`tree listing differs from the reference extraction (first difference: ${first ?? 'length'})`);
  }
  await runChecked('diff', ['-rq', '--no-dereference', a, b]);
}

/** Block slot: ferry's block write (mkfs, mount, extract, syncfs, umount) vs the same by shell, and `rauc install`. */
export function applyBlockComparison(ctx: OpsContext, loop: LoopDevice): Comparison {
  const { inputs, scratch, steps, peers } = ctx;
  const mnt = join(scratch, 'block-mnt');
  const layers = layerFiles(inputs);
  const script = ['set -e', 'mkfs.ext4 -F -q "$0"', 'mount -t ext4 "$0" "$1"', `trap 'umount "$1"' EXIT`,
    ...layers.map((_, i) => `tar --numeric-owner -xzf "$${i + 2}" -C "$1"`), 'sync -f "$1"'].join('; ');
  const device = 'device' in loop ? loop.device : undefined;
  const why = 'why' in loop ? loop.why : undefined;
  return {
    op: 'apply to block slot (ext4 on loop)',
    size: inputs.sizeLabel,
    inputBytes: inputs.rootfsBytes,
    ferry: ferrySide(why ?? steps.applyWhy, 'ferry apply (block slot)', () => steps.blockArgv(inputs, device as string, join(scratch, 'block-state'))),
    peers: [
      {
        contender: { name: 'mkfs.ext4 + mount + tar -xzf + umount', notRun: why ?? peers.tar, prepare: () => mkdir(mnt, { recursive: true }).then(() => undefined),
          argv: () => ['sh', '-c', script, device as string, mnt, ...layers] },
        target: { maxRatio: 1.5, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'rauc install', argv: () => [],
          notRun: 'rauc install needs the rauc D-Bus service, a system.conf with real slots and a booted-slot marker (no systemd/D-Bus here)' },
        target: { maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: () => 'MB/s counts unpacked rootfs bytes',
  };
}

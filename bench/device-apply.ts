/**
 * The whole device pipeline through the CLI: `ferry device apply --media … --yes` on a
 * throwaway device (file bootloader, dir slots, trust = a root made by `ferry pki`)
 * from a stick exported and signed by `ferry export --signer`. This adds signature
 * verification, planning, state, bootloader switch and receipt to the dir-slot write.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_TARGET, type FerrySteps } from './ferry-steps.js';
import { ferryArgv, type FerryCli } from './ferry.js';
import { treeFiles, type Comparison, type Contender } from './harness.js';
import type { SizeInputs } from './inputs.js';
import { RSS_TARGET_MIB, type PeerStatus } from './ops.js';
import { sameTree } from './ops-apply.js';
import { freshFsBytes } from './fresh-fs.js';
import { runChecked } from './proc.js';

const COMPATIBLE = 'ferry-bench';

/** The device row, or a row saying why it cannot run. */
export async function deviceApplyComparison(inputs: SizeInputs, scratch: string, cli: FerryCli, steps: FerrySteps, peers: PeerStatus): Promise<Comparison> {
  const dir = join(scratch, 'device');
  // the folders each side writes into: a fresh ext4 per sample when the bench can make one
  // (bench/fresh-fs.ts); the device's slots and state live in ferry's, its stick and trust stay in `dir`
  const side = (name: string) => join(scratch, 'fresh', `device-${name}`);
  const written = side('ferry');
  const tarOut = join(side('tar'), 'rootfs');
  const tarSyncOut = join(side('tar-sync'), 'rootfs');
  const umociOut = join(side('umoci'), 'bundle');
  const why = cli.missing['device apply'] ?? steps.exportWhy;
  let ferry: Contender = { name: 'ferry device apply', notRun: why ?? '', argv: () => [] };
  if (why === undefined) {
    try {
      ferry = { ...(await deviceSide(inputs, dir, written)), freshFs: written };
    } catch (e) {
      ferry = { name: 'ferry device apply', notRun: `set-up failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300), argv: () => [] };
    }
  }
  const layers = inputs.image.v1.layers.map((l) => join(inputs.layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));
  const script = ['set -e', ...layers.map((_, i) => `tar --numeric-owner -xzf "$${i + 1}" -C "$0"`)].join('; ');
  // ferry syncs the slot before it switches the bootloader: the fair peer syncs too
  const synced = `${script}; sync -f "$0"`;
  const v1Blobs = [inputs.image.v1.manifest, ...inputs.image.v1.layers].map((d) => join(inputs.layout, 'blobs', 'sha256', d.digest.slice('sha256:'.length)));
  const fresh = sameStart([join(written, 'slots'), join(written, 'state'), umociOut, tarOut, tarSyncOut]);
  const tarPrepare = (out: string) => async () => { await fresh(layers); await mkdir(out, { recursive: true }); };
  return {
    op: 'device apply, whole pipeline (dir slot)',
    size: inputs.sizeLabel,
    inputBytes: inputs.rootfsBytes,
    ferry: ferry.notRun !== undefined ? ferry : { ...ferry, prepare: async () => { await fresh(await treeFiles(join(dir, 'stick'))); await ferry.prepare?.(); } },
    peers: [
      {
        contender: { name: 'umoci unpack', notRun: peers.umoci, freshFs: side('umoci'), prepare: () => fresh([join(inputs.layout, 'index.json'), ...v1Blobs]),
          argv: () => ['umoci', 'unpack', '--image', `${inputs.layout}:1.0.0`, umociOut] },
        target: { maxRatio: 1.0, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'tar -xzf (layers in order)', notRun: peers.tar, freshFs: side('tar'), prepare: tarPrepare(tarOut), argv: () => ['sh', '-c', script, tarOut, ...layers] },
        target: { maxRatio: 1.5, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'tar -xzf + sync', notRun: peers.tar, freshFs: side('tar-sync'), prepare: tarPrepare(tarSyncOut), argv: () => ['sh', '-c', synced, tarSyncOut, ...layers] },
        target: { maxRatio: 0.6, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: () => 'signature check + plan + write + bootloader switch + receipt; MB/s counts unpacked rootfs bytes; every side starts alike: all four sides\' outputs removed, its own inputs read into the page cache, then the file system synced (untimed)',
    freshFsBytes: freshFsBytes(inputs.rootfsBytes),
    // every prepare removes every side's output (on the workdir's file system; with fresh file
    // systems each side's last output is mounted again for the check), so the last run left only
    // tar + sync's: ferry and tar write their trees once more (untimed) for the comparison
    check: async () => {
      if (ferry.notRun !== undefined) return;
      await tarPrepare(tarOut)();
      await runChecked('sh', ['-c', script, tarOut, ...layers]);
      await ferry.prepare?.(); // its own reset only: tar's tree stays
      await runChecked(ferry.argv()[0] as string, ferry.argv().slice(1), ferry.env ? { env: ferry.env } : {});
      await sameTree(join(written, 'slots', 'b'), tarOut);
    },
  };
}

/**
 * The untimed start of every side: the outputs of all four sides removed (not only its own: the
 * others' 1.1 GB trees left in the page cache made the next writer reclaim memory, and
 * which trees were present depended on the order), then the files the side reads loaded into
 * the page cache (another job on the machine may have evicted them). The harness then syncs
 * the file system, so the deletions' journal commit and discards are not paid inside the clock.
 */
function sameStart(outputs: readonly string[]): (inputs: readonly string[]) => Promise<void> {
  return async (inputs) => {
    for (const o of outputs) await rm(o, { recursive: true, force: true });
    await runChecked('sh', ['-c', 'cat "$@" > /dev/null', 'warm', ...inputs]);
  };
}

/** The ferry side: its stick, trust and config in `dir`; slots and state in `written` (the folder it writes into). */
async function deviceSide(inputs: SizeInputs, dir: string, written: string): Promise<Contender> {
  const ferry = ferryArgv();
  const run = (args: string[]) => runChecked(ferry[0] as string, [...ferry.slice(1), ...args]);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'trust', 'roots'), { recursive: true });
  await run(['pki', 'init-root', '--out', join(dir, 'root'), '--name', 'ferry bench root', '--no-passphrase']);
  await run(['pki', 'issue-signer', '--root', join(dir, 'root'), '--out', join(dir, 'signer'), '--name', 'ferry bench signer', '--days', '30']);
  await runChecked('cp', [join(dir, 'root', 'cert.pem'), join(dir, 'trust', 'roots', 'root.pem')]);
  const stick = join(dir, 'stick');
  await run(['export', '--image', `oci-archive:${inputs.archive.v1}`, '--media', stick, '--create', '--target', BENCH_TARGET, '--version', '1.0.0',
    '--signer', join(dir, 'signer'), '--compatible', COMPATIBLE]);
  const config = join(dir, 'device.json');
  await writeFile(config, JSON.stringify({
    compatible: COMPATIBLE, deviceId: 'bench-device', stateDir: join(written, 'state'), trustDir: join(dir, 'trust'),
    slots: { A: { type: 'dir', path: join(written, 'slots', 'a') }, B: { type: 'dir', path: join(written, 'slots', 'b') } },
    bootloader: { type: 'file', path: join(dir, 'boot.json'), attempts: 3 },
    rebootCommand: 'true',
  }, null, 2));
  const cmdline = join(dir, 'cmdline');
  await writeFile(cmdline, 'root=/dev/sda2 ro ferry.slot=A\n');
  return {
    name: 'ferry device apply',
    prepare: async () => {
      // a fresh device booted from A each run, so every run installs to B
      await rm(join(written, 'state'), { recursive: true, force: true });
      await rm(join(written, 'slots'), { recursive: true, force: true });
      await mkdir(join(written, 'slots', 'a'), { recursive: true });
      await mkdir(join(written, 'slots', 'b'), { recursive: true });
      await writeFile(join(dir, 'boot.json'), JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }));
    },
    argv: () => [...ferry, 'device', 'apply', '--media', stick, '--yes', '--config', config],
    env: { ...process.env, FERRY_CMDLINE_FILE: cmdline },
  };
}

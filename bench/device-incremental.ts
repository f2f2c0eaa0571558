/**
 * Device rows for updates: `ferry device apply` of 1.1.0 onto a slot that holds 1.0.0
 * (incremental: only what differs is written; layers shared with 1.0.0 are not read)
 * against a full apply of 1.1.0 onto an empty slot, in the same run; and the full apply
 * of zstd layers (`export --compress zstd`) against the same image with gzip layers.
 * Bytes written are measured on the slot, not taken from ferry: a regular file counts
 * when its inode is new (tar replaces a file by unlinking it) or its change time moved
 * while it has one link (a re-made hardlink only touches its target's link count); an inode
 * counts once, however many links it has.
 */
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_TARGET } from './ferry-steps.js';
import { ferryArgv } from './ferry.js';
import type { Comparison, Contender } from './harness.js';
import type { SizeInputs } from './inputs.js';
import { RSS_TARGET_MIB } from './ops.js';
import { sameTree } from './ops-apply.js';
import { runChecked } from './proc.js';
import { fmtBytes, type Outcome } from './report.js';
import { driftComparisons, type DriftDevice } from './device-drift.js';

const COMPATIBLE = 'ferry-bench';

/** The rows this file adds. */
export const INCREMENTAL_OP = 'incremental apply 1.0.0 → 1.1.0';
export const ZSTD_OP = 'full apply, zstd layers';

/** inode and change time of every regular file under a slot, by path. */
type FileStamps = Map<string, { ino: bigint; ctimeNs: bigint }>;

async function stamps(dir: string, rel = '', out: FileStamps = new Map()): Promise<FileStamps> {
  for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await stamps(dir, p, out);
    else if (e.isFile()) {
      const st = await lstat(join(dir, p), { bigint: true });
      out.set(p, { ino: st.ino, ctimeNs: st.ctimeNs });
    }
  }
  return out;
}

/** Content bytes of the files written into `dir` since `before` was taken (each inode once: hardlinks share their blocks). */
async function bytesWrittenSince(dir: string, before: FileStamps, rel = '', counted = new Set<bigint>()): Promise<number> {
  let total = 0;
  for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) total += await bytesWrittenSince(dir, before, p, counted);
    else if (e.isFile()) {
      const st = await lstat(join(dir, p), { bigint: true });
      const was = before.get(p);
      if (counted.has(st.ino)) continue;
      if (!was || was.ino !== st.ino || (st.nlink === 1n && st.ctimeNs !== was.ctimeNs)) {
        counted.add(st.ino);
        total += Number(st.size);
      }
    }
  }
  return total;
}

/** Device access: the stick, its device config and the environment (the booted-slot marker). */
interface Dev {
  stick: string;
  config: string;
  env: NodeJS.ProcessEnv;
}

/** A signed stick holding 1.0.0 and 1.1.0 with file indexes, made under `dir`, with a device there. */
async function deviceWithStick(inputs: SizeInputs, dir: string, compress?: 'zstd'): Promise<Dev> {
  const ferry = ferryArgv();
  const run = (args: string[]) => runChecked(ferry[0] as string, [...ferry.slice(1), ...args]);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run(['pki', 'init-root', '--out', join(dir, 'root'), '--name', 'ferry bench root', '--no-passphrase']);
  await run(['pki', 'issue-signer', '--root', join(dir, 'root'), '--out', join(dir, 'signer'), '--name', 'ferry bench signer', '--days', '30']);
  const stick = join(dir, 'stick');
  for (const [archive, version] of [[inputs.archive.v1, '1.0.0'], [inputs.archive.v2, '1.1.0']] as const) {
    await run(['export', '--image', `oci-archive:${archive}`, '--media', stick, '--create', '--target', BENCH_TARGET, '--version', version,
      '--signer', join(dir, 'signer'), '--compatible', COMPATIBLE, '--file-index', ...(compress ? ['--compress', compress] : [])]);
  }
  return deviceAt(dir, stick, join(dir, 'root', 'cert.pem'));
}

/** A device (file bootloader, dir slots, its own state) in `dir` reading `stick`, trusting `rootCert`. */
async function deviceAt(dir: string, stick: string, rootCert: string): Promise<Dev> {
  await mkdir(join(dir, 'trust', 'roots'), { recursive: true });
  await runChecked('cp', [rootCert, join(dir, 'trust', 'roots', 'root.pem')]);
  const config = join(dir, 'device.json');
  await writeFile(config, JSON.stringify({
    compatible: COMPATIBLE, deviceId: 'bench-device', stateDir: join(dir, 'state'), trustDir: join(dir, 'trust'),
    slots: { A: { type: 'dir', path: join(dir, 'slots', 'a') }, B: { type: 'dir', path: join(dir, 'slots', 'b') } },
    bootloader: { type: 'file', path: join(dir, 'boot.json'), attempts: 3 },
    rebootCommand: 'true',
  }, null, 2));
  const cmdline = join(dir, 'cmdline');
  await writeFile(cmdline, 'root=/dev/sda2 ro ferry.slot=A\n');
  return { stick, config, env: { ...process.env, FERRY_CMDLINE_FILE: cmdline } };
}

/** A fresh device booted from A with both slots empty (every apply installs to B). */
async function freshDevice(dir: string): Promise<void> {
  await rm(join(dir, 'state'), { recursive: true, force: true });
  await rm(join(dir, 'slots'), { recursive: true, force: true });
  await mkdir(join(dir, 'slots', 'a'), { recursive: true });
  await mkdir(join(dir, 'slots', 'b'), { recursive: true });
  await writeFile(join(dir, 'boot.json'), JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }));
}

/** `ferry device apply --update <id>` on the device in `dir`; `from`: installed (untimed) first. */
function applySide(name: string, dir: string, dev: Dev, id: string, from?: string): Contender {
  const ferry = ferryArgv();
  const slot = join(dir, 'slots', 'b');
  let before: FileStamps = new Map();
  const argv = (update: string) => [...ferry, 'device', 'apply', '--media', dev.stick, '--yes', '--config', dev.config, '--update', update];
  return {
    name,
    prepare: async () => {
      await freshDevice(dir);
      if (from !== undefined) {
        const [cmd, ...args] = argv(from);
        await runChecked(cmd as string, args, { env: dev.env });
      }
      before = await stamps(slot);
    },
    argv: () => argv(id),
    env: dev.env,
    bytesWritten: () => bytesWrittenSince(slot, before),
  };
}

async function sideOrWhy(name: string, make: () => Promise<Contender>): Promise<Contender> {
  try {
    return await make();
  } catch (e) {
    return { name, notRun: `set-up failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300), argv: () => [] };
  }
}

function writtenNote(changedBytes: number): (ferry: Outcome, peer: Outcome) => string {
  return (ferry, peer) => {
    const w = (o: Outcome) => (o.kind === 'measured' && o.bytesWritten !== undefined ? fmtBytes(o.bytesWritten) : '?');
    const ratio = ferry.kind === 'measured' && ferry.bytesWritten !== undefined ? ` (${(ferry.bytesWritten / changedBytes).toFixed(2)}x changed)` : '';
    return `bytes written to the slot: ferry ${w(ferry)}${ratio}, full ${w(peer)}; files new or changed in 1.1.0: ${fmtBytes(changedBytes)}`;
  };
}

/** Incremental apply 1.0.0 → 1.1.0 vs a full apply of 1.1.0, and the full apply with zstd layers vs gzip. */
export async function deviceUpdateComparisons(inputs: SizeInputs, scratch: string, why: string | undefined, changedBytes: number, wanted: (op: string) => boolean): Promise<Comparison[]> {
  const gz = join(scratch, 'device-update-gzip');
  const fullDir = join(scratch, 'device-update-full');
  const zst = join(scratch, 'device-update-zstd');
  const id = `${BENCH_TARGET}-1.1.0`;
  const notRun = (name: string): Contender => ({ name, notRun: why ?? '', argv: () => [] });
  const gzDev = why === undefined ? await deviceWithStick(inputs, gz).catch((e: unknown) => e as Error) : undefined;
  // each side is its own device (state, slots) reading the one gzip stick
  const side = (name: string, dir: string, from?: string) =>
    gzDev === undefined ? notRun(name) : sideOrWhy(name, async () => {
      if (gzDev instanceof Error) throw gzDev;
      return applySide(name, dir, dir === gz ? gzDev : await deviceAt(dir, gzDev.stick, join(gz, 'root', 'cert.pem')), id, from);
    });
  const zstSide = why === undefined && wanted(ZSTD_OP) ? await sideOrWhy('ferry device apply 1.1.0, zstd layers', async () => applySide('ferry device apply 1.1.0, zstd layers', zst, await deviceWithStick(inputs, zst, 'zstd'), id)) : notRun('zstd');
  const target = { maxRssMiB: RSS_TARGET_MIB };
  const list: Comparison[] = [
    {
      op: INCREMENTAL_OP,
      size: inputs.sizeLabel,
      inputBytes: inputs.rootfsBytes,
      ferry: await side('ferry device apply 1.1.0 (slot holds 1.0.0)', gz, `${BENCH_TARGET}-1.0.0`),
      peers: [{ contender: await side('full apply of 1.1.0 (empty slot)', fullDir), target: { ...target, maxRatio: 0.35 } }],
      notes: writtenNote(changedBytes),
      check: () => sameTree(join(gz, 'slots', 'b'), join(fullDir, 'slots', 'b')),
    },
    {
      op: ZSTD_OP,
      size: inputs.sizeLabel,
      inputBytes: inputs.rootfsBytes,
      ferry: zstSide,
      peers: [{ contender: await side('full apply of 1.1.0, gzip layers', fullDir), target: { ...target, maxRatio: 1.0 } }],
      notes: (f, p) => `bytes written: zstd ${f.kind === 'measured' && f.bytesWritten !== undefined ? fmtBytes(f.bytesWritten) : '?'}, gzip ${p.kind === 'measured' && p.bytesWritten !== undefined ? fmtBytes(p.bytesWritten) : '?'}`,
      check: () => sameTree(join(zst, 'slots', 'b'), join(fullDir, 'slots', 'b')),
    },
  ];
  return [...list.filter((c) => wanted(c.op)), ...driftComparisons(inputs, driftDevice(gz, gzDev, why), { from: `${BENCH_TARGET}-1.0.0`, to: id }, wanted)];
}

/** The incremental row's device for the drift rows (bench/device-drift.ts), or why there is none. */
function driftDevice(dir: string, dev: Dev | Error | undefined, why: string | undefined): DriftDevice | string {
  if (dev === undefined) return why ?? 'no device';
  if (dev instanceof Error) return `set-up failed: ${dev.message}`.slice(0, 300);
  const ferry = ferryArgv();
  const install = async (ids: string[]) => {
    await freshDevice(dir);
    for (const u of ids) await runChecked(ferry[0] as string, [...ferry.slice(1), 'device', 'apply', '--media', dev.stick, '--yes', '--config', dev.config, '--update', u], { env: dev.env });
  };
  return { dir, config: dev.config, env: dev.env, install };
}

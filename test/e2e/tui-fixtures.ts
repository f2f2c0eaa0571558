/**
 * A whole little world for the TUI end-to-end tests, built with the real library:
 * sample images → `exportImage` onto a stick → a throwaway root CA and signer
 * (`ferry pki`) → `publishUpdate` (signed manifests) → a throwaway device
 * (test/helpers/device.ts) that trusts the root. Damage is done with plain file writes.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { exportImage } from '../../src/media/export.js';
import { publishUpdate } from '../../src/media/publish.js';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { type DeviceSpec, makeDevice, type TestDevice } from '../helpers/device.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';

/** Signed media plus the PKI that signed it. */
export interface SignedStick {
  dir: string;
  stick: string;
  rootCert: string;
  samples: SampleImages;
}

/** What to put on the stick: [input image, target, version, compatible]. */
export type StickEntry = { image: 'v1' | 'v2'; target: string; version: string; compatible: string[]; notes?: string; expires?: string; signedDaysAgo?: number };

/** The default stick: the kiosk at 1.0.0 and 1.1.0, and an update for another device type. */
export const DEFAULT_ENTRIES: StickEntry[] = [
  { image: 'v1', target: 'kiosk', version: '1.0.0', compatible: ['acme,kiosk-v2'] },
  { image: 'v2', target: 'kiosk', version: '1.1.0', compatible: ['acme,kiosk-v2'], notes: 'Fixes the printer queue after a paper jam.\nBoots 2 s faster.' },
  { image: 'v2', target: 'tablet', version: '3.0.0', compatible: ['acme,tablet-v1'] },
  // Signed two days ago, valid for one: expired now.
  { image: 'v2', target: 'kiosk', version: '1.2.0', compatible: ['acme,kiosk-v2'], signedDaysAgo: 2, expires: '1' },
];

const DAY_MS = 86_400_000;

/** Build samples, a PKI and a signed stick under a new temp dir. */
export async function makeSignedStick(entries: StickEntry[] = DEFAULT_ENTRIES): Promise<SignedStick> {
  const samples = await buildSamplesInTemp('ferry-tui-e2e-');
  const dir = samples.dir;
  const pkiNow = new Date(Date.now() - 10 * DAY_MS);
  const root = await initRoot({ out: path.join(dir, 'pki/root'), name: 'ferry test root', days: 3650, keyBits: 3072, now: pkiNow });
  await issueCertificate({ issuerDir: path.join(dir, 'pki/root'), profile: 'signer', name: 'ferry signer', days: 365, out: path.join(dir, 'pki/signer'), now: pkiNow });
  const stick = path.join(dir, 'stick');
  for (const e of entries) {
    const res = await exportImage({ image: samples[e.image], target: e.target, version: e.version, mediaRoot: stick });
    await publishUpdate({
      mediaRoot: stick,
      target: e.target,
      version: e.version,
      manifest: res.manifest,
      platform: res.platform,
      payloadBytes: res.payloadBytes,
      signerDir: path.join(dir, 'pki/signer'),
      compatible: e.compatible,
      ...(e.notes ? { notes: e.notes } : {}),
      ...(e.expires ? { expires: e.expires } : {}),
      ...(e.signedDaysAgo ? { now: new Date(Date.now() - e.signedDaysAgo * DAY_MS) } : {}),
    });
  }
  // Junk a real stick carries; ferry must ignore it.
  await fsp.writeFile(path.join(stick, 'FERRY', 'updates', '._kiosk-1.1.0.json'), 'AppleDouble junk');
  await fsp.mkdir(path.join(stick, 'System Volume Information'), { recursive: true });
  return { dir, stick, rootCert: root.path, samples };
}

/** A throwaway device that trusts the stick's root. */
export async function makeTrustingDevice(s: SignedStick, spec: DeviceSpec = {}): Promise<TestDevice> {
  const dev = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-0042' }, ...spec });
  await fsp.mkdir(path.join(dev.trustDir, 'roots'), { recursive: true });
  await fsp.copyFile(s.rootCert, path.join(dev.trustDir, 'roots', 'root.pem'));
  return dev;
}

/** A device running kiosk 1.0.0, committed, from slot B (installed and boot-checked by the engine); slot A is the empty factory slot. */
export async function deviceOn100(s: SignedStick, spec: DeviceSpec = {}): Promise<TestDevice> {
  const { applyUpdate } = await import('../../src/device/apply.js');
  const { bootCheck } = await import('../../src/device/boot-check.js');
  const { deviceDeps } = await import('../../src/device/deps.js');
  const { simulateBoot } = await import('../helpers/device.js');
  const dev = await makeTrustingDevice(s, spec);
  await applyUpdate({ ...dev.opts, mediaRoot: s.stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
  if ((await simulateBoot(dev)) !== 'B') throw new Error('expected to boot B');
  const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
  if (bc.outcome !== 'committed') throw new Error(`boot-check: ${bc.outcome}`);
  return dev;
}

/** Environment and arguments to run ferry-tui against `dev` and `stick`. */
export function tuiArgs(dev: TestDevice, stick: string): { args: string[]; env: Record<string, string> } {
  return { args: ['--config', dev.configFile, '--media', stick], env: { FERRY_CMDLINE_FILE: dev.cmdlineFile } };
}

/** The layer blobs of an update on the stick, largest first. */
export async function layerFiles(stick: string, id: string): Promise<string[]> {
  const m = JSON.parse(await fsp.readFile(path.join(stick, 'FERRY/updates', `${id}.json`), 'utf8')) as { image: { manifest: { digest: string } } };
  const blob = (d: string) => path.join(stick, 'FERRY/oci/blobs/sha256', d.slice('sha256:'.length));
  const man = JSON.parse(await fsp.readFile(blob(m.image.manifest.digest), 'utf8')) as { layers: Array<{ digest: string; size: number }> };
  return [...man.layers].sort((a, b) => b.size - a.size).map((l) => blob(l.digest));
}

/** Flip one byte in the middle of the largest layer of `id` (a damaged or tampered stick). */
export async function tamperLargestLayer(stick: string, id: string): Promise<string> {
  const file = (await layerFiles(stick, id))[0]!;
  const fh = await fsp.open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, Math.floor(size / 2));
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, Math.floor(size / 2));
  } finally {
    await fh.close();
  }
  return file;
}

/** Slot A's file system, frozen on demand: the apply then blocks in its write (after it reported the write stage) until thawed. */
export interface FreezableSlot {
  /** Freeze slot A's file system (fsfreeze -f): every write to it waits. */
  freeze(): void;
  /** Let the waiting writes go on. */
  thaw(): void;
  /** Thaw, unmount and remove; safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Move slot A of `dev` onto its own small ext4 (a loop-mounted file under /tmp) so a test can
 * hold ferry mid-write, deterministically: the stick itself must be plain files (a FIFO on it is
 * refused as UNSAFE_MEDIA), so the hold is on the slot side. The mount root is the slot and is
 * emptied first (no lost+found), so nothing is written before the first extracted file.
 */
export async function freezableSlotA(dev: TestDevice): Promise<FreezableSlot> {
  const { execFileSync } = await import('node:child_process');
  const base = await fsp.mkdtemp(path.join(dev.root, 'slot-a-fs-'));
  const img = path.join(base, 'fs.img');
  const mnt = path.join(base, 'a');
  await fsp.writeFile(img, '');
  await fsp.truncate(img, 64 * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  await fsp.mkdir(mnt);
  execFileSync('mount', ['-o', 'loop', img, mnt]);
  let frozen = false;
  let mounted = true;
  const thaw = () => {
    if (frozen) execFileSync('fsfreeze', ['-u', mnt]);
    frozen = false;
  };
  try {
    await fsp.rmdir(path.join(mnt, 'lost+found'));
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    cfg.slots.A = { ...cfg.slots.A, path: mnt };
    await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
  } catch (e) {
    execFileSync('umount', [mnt]);
    throw e;
  }
  return {
    freeze() {
      execFileSync('fsfreeze', ['-f', mnt]);
      frozen = true;
    },
    thaw,
    async cleanup() {
      thaw();
      if (mounted) {
        // The writer may still be finishing after the thaw: retry the unmount briefly.
        for (let i = 0; i < 50; i++) {
          try {
            execFileSync('umount', [mnt], { stdio: 'ignore' });
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        mounted = false;
      }
    },
  };
}

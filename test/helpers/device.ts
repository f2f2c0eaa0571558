/**
 * Test helper: a throwaway device (config, state dir, trust dir, a real grubenv or
 * U-Boot environment file or a JSON boot file, a kernel command line file), and
 * `simulateBoot`, which does what samples/grub/grub.cfg or samples/uboot/boot.cmd
 * does at power-on: pick the slot by ORDER and tries, count the try, and write
 * `ferry.slot=X` into the command line that boot-check reads.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeGrubenv, encodeGrubenv } from '../../src/device/bootloaders/grubenv.js';
import type { DeviceOptions } from '../../src/device/context.js';
import type { SlotName } from '../../src/device/types.js';

export type BootloaderKind = 'file' | 'grub' | 'uboot';

/** A device living in a temp dir. */
export interface TestDevice {
  root: string;
  configFile: string;
  stateDir: string;
  trustDir: string;
  cmdlineFile: string;
  machineIdFile: string;
  kind: BootloaderKind;
  /** grubenv, U-Boot env image, or JSON boot file. */
  bootFile: string;
  fwConfig?: string;
  attempts: number;
  /** Options for every engine call. */
  opts: DeviceOptions;
  setBooted(slot: SlotName): Promise<void>;
  booted(): Promise<SlotName>;
  cleanup(): Promise<void>;
}

/** What to build. */
export interface DeviceSpec {
  kind?: BootloaderKind;
  attempts?: number;
  compatible?: string;
  /** Slot configs; default dir slots under the device root. */
  slots?: (root: string) => Record<SlotName, Record<string, unknown>>;
  healthCheck?: { command: string; timeoutSec?: number };
  extra?: Record<string, unknown>;
}

/** Create a fresh device booted from A, with A good in the bootloader. */
export async function makeDevice(spec: DeviceSpec = {}): Promise<TestDevice> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-device-'));
  const kind = spec.kind ?? 'file';
  const attempts = spec.attempts ?? 3;
  const d = (...p: string[]) => path.join(root, ...p);
  await fsp.mkdir(d('trust'), { recursive: true });
  await fsp.mkdir(d('boot'), { recursive: true });
  const machineIdFile = d('machine-id');
  await fsp.writeFile(machineIdFile, '0123456789abcdef0123456789abcdef\n');
  const cmdlineFile = d('cmdline');
  await fsp.writeFile(cmdlineFile, 'root=/dev/sda2 ro quiet ferry.slot=A\n');
  let bootFile: string;
  let fwConfig: string | undefined;
  let bootloader: Record<string, unknown>;
  if (kind === 'grub') {
    bootFile = d('boot', 'grubenv');
    execFileSync('grub-editenv', [bootFile, 'create']);
    execFileSync('grub-editenv', [bootFile, 'set', 'ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0', `FERRY_MAX_TRY=${attempts}`]);
    bootloader = { type: 'grub', envFile: bootFile, attempts };
  } else if (kind === 'uboot') {
    bootFile = d('boot', 'uboot.env');
    fwConfig = d('boot', 'fw_env.config');
    await fsp.writeFile(bootFile, Buffer.alloc(0x4000));
    await fsp.writeFile(fwConfig, `${bootFile} 0x0000 0x4000\n`);
    // A blank (all-zero) environment has a bad CRC; provisioning starts it from an empty default environment.
    await fsp.writeFile(d('boot', 'empty-defaults'), '');
    await fsp.writeFile(d('boot', 'init.txt'), `BOOT_ORDER=A B\nBOOT_A_LEFT=${attempts}\nBOOT_B_LEFT=0\nbootcmd=run ferry_boot\n`);
    execFileSync('fw_setenv', ['-c', fwConfig, '-f', d('boot', 'empty-defaults'), '-s', d('boot', 'init.txt')]);
    bootloader = { type: 'uboot', configFile: fwConfig, attempts };
  } else {
    bootFile = d('boot', 'boot.json');
    await fsp.writeFile(bootFile, JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: attempts }, B: { good: false, attemptsLeft: 0 } } }));
    bootloader = { type: 'file', path: bootFile, attempts };
  }
  const slots = spec.slots?.(root) ?? { A: { type: 'dir', path: d('slots', 'a') }, B: { type: 'dir', path: d('slots', 'b') } };
  const config = {
    compatible: spec.compatible ?? 'acme,kiosk-v2',
    stateDir: d('state'),
    trustDir: d('trust'),
    slots,
    bootloader,
    ...(spec.healthCheck ? { healthCheck: spec.healthCheck } : {}),
    rebootCommand: 'true',
    ...spec.extra,
  };
  const configFile = d('device.json');
  await fsp.writeFile(configFile, JSON.stringify(config, null, 2));
  return {
    root,
    configFile,
    stateDir: d('state'),
    trustDir: d('trust'),
    cmdlineFile,
    machineIdFile,
    kind,
    bootFile,
    ...(fwConfig ? { fwConfig } : {}),
    attempts,
    opts: { configFile, cmdlineFile, machineIdFile, env: {} },
    setBooted: (slot) => fsp.writeFile(cmdlineFile, `root=/dev/sda2 ro quiet ferry.slot=${slot}\n`),
    booted: async () => ((await fsp.readFile(cmdlineFile, 'utf8')).match(/ferry\.slot=([AB])/)?.[1] as SlotName),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
}

const fwArgs = (dev: TestDevice) => ['-c', dev.fwConfig!];

/** Read the U-Boot variables with the real fw_printenv. */
export function fwPrintenv(dev: TestDevice): Record<string, string> {
  const out = execFileSync('fw_printenv', fwArgs(dev), { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Read grubenv variables with the real grub-editenv. */
export function grubList(dev: TestDevice): Record<string, string> {
  const out = execFileSync('grub-editenv', [dev.bootFile, 'list'], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/**
 * Power on: run the boot script's slot choice on the bootloader's real storage and
 * record the chosen slot in the kernel command line. Returns the booted slot.
 */
export async function simulateBoot(dev: TestDevice): Promise<SlotName> {
  const slot = dev.kind === 'grub' ? await bootGrub(dev) : dev.kind === 'uboot' ? bootUboot(dev) : await bootFile(dev);
  await dev.setBooted(slot);
  return slot;
}

/**
 * samples/grub/grub.cfg in TypeScript, the fast stand-in for unit tests: first slot in ORDER
 * with OK=1 and TRY < FERRY_MAX_TRY; count the try. The real script runs under GRUB in
 * test/vm (docs/vm.md), which checks this model against what GRUB chose (test/vm/boot.vm.ts).
 */
async function bootGrub(dev: TestDevice): Promise<SlotName> {
  const vars = decodeGrubenv(await fsp.readFile(dev.bootFile));
  const chosen = grubBootChoice(vars);
  // GRUB's save_env rewrites the block in place; size stays 1024.
  await fsp.writeFile(dev.bootFile, encodeGrubenv(vars, (await fsp.stat(dev.bootFile)).size));
  return chosen;
}

/** grub.cfg's choice at power-on on the grubenv variables `vars` (updated: the try is counted). */
export function grubBootChoice(vars: Map<string, string>): SlotName {
  const max = Number(vars.get('FERRY_MAX_TRY') ?? '1');
  const order = (vars.get('ORDER') ?? 'A B').split(' ') as SlotName[];
  let chosen = order.find((s) => vars.get(`${s}_OK`) === '1' && Number(vars.get(`${s}_TRY`) ?? '0') < max);
  if (!chosen) {
    // No slot left to try: reset the tries of every OK slot and boot the first (grub.cfg's fallback).
    for (const s of order) if (vars.get(`${s}_OK`) === '1') vars.set(`${s}_TRY`, '0');
    chosen = order.find((s) => vars.get(`${s}_OK`) === '1');
    if (!chosen) throw new Error('grub: no bootable slot');
  }
  vars.set(`${chosen}_TRY`, String(Number(vars.get(`${chosen}_TRY`) ?? '0') + 1));
  return chosen;
}

/** samples/uboot/boot.cmd in TypeScript: first slot in BOOT_ORDER with LEFT > 0; decrement; none → give the first slot of BOOT_ORDER its tries back. */
function bootUboot(dev: TestDevice): SlotName {
  const v = fwPrintenv(dev);
  const order = (v.BOOT_ORDER ?? 'A B').split(' ') as SlotName[];
  let chosen = order.find((s) => Number(v[`BOOT_${s}_LEFT`] ?? '0') > 0);
  if (!chosen) {
    execFileSync('fw_setenv', [...fwArgs(dev), `BOOT_${order[0]!}_LEFT`, String(dev.attempts)]);
    return bootUboot(dev);
  }
  execFileSync('fw_setenv', [...fwArgs(dev), `BOOT_${chosen}_LEFT`, String(Number(v[`BOOT_${chosen}_LEFT`]) - 1)]);
  return chosen;
}

async function bootFile(dev: TestDevice): Promise<SlotName> {
  const s = JSON.parse(await fsp.readFile(dev.bootFile, 'utf8')) as { order: SlotName[]; slots: Record<SlotName, { good: boolean; attemptsLeft: number }> };
  let chosen = s.order.find((n) => s.slots[n].good && s.slots[n].attemptsLeft > 0);
  if (!chosen) {
    for (const n of s.order) if (s.slots[n].good) s.slots[n].attemptsLeft = dev.attempts;
    chosen = s.order.find((n) => s.slots[n].good);
    if (!chosen) throw new Error('file: no bootable slot');
  }
  s.slots[chosen].attemptsLeft--;
  await fsp.writeFile(dev.bootFile, JSON.stringify(s));
  return chosen;
}

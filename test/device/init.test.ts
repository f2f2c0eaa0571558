import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BOOTLOADER_TYPES, createBootloader } from '../../src/device/bootloaders/registry.js';
import { loadDeviceConfig } from '../../src/device/config.js';
import { deviceDeps } from '../../src/device/deps.js';
import { initDevice, type InitOptions } from '../../src/device/init.js';
import { deviceStatus } from '../../src/device/status.js';
import { FerryError } from '../../src/errors.js';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { type BootloaderKind, fwPrintenv, grubList, makeDevice, type TestDevice } from '../helpers/device.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
let pki: string;
let rootPem: string;
let otherRootPem: string;
let signerPem: string;
let dev: TestDevice | undefined;

beforeAll(async () => {
  pki = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-init-pki-'));
  await initRoot({ out: path.join(pki, 'root'), name: 'init test root' });
  await initRoot({ out: path.join(pki, 'other'), name: 'another root' });
  await issueCertificate({ issuerDir: path.join(pki, 'root'), profile: 'signer', name: 'init test signer', days: 30, out: path.join(pki, 'signer') });
  rootPem = path.join(pki, 'root', 'cert.pem');
  otherRootPem = path.join(pki, 'root.pem');
  await fsp.copyFile(path.join(pki, 'other', 'cert.pem'), otherRootPem);
  signerPem = path.join(pki, 'signer', 'cert.pem');
});
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});
afterAll(async () => {
  await fsp.rm(pki, { recursive: true, force: true });
});

/** A device as it leaves the image builder: config only, no boot state, no state dir. */
async function freshDevice(kind: BootloaderKind): Promise<TestDevice> {
  const d = await makeDevice({ kind, extra: { deviceId: 'kiosk-init-1' } });
  if (kind === 'uboot') {
    await fsp.writeFile(d.bootFile, Buffer.alloc(0x4000)); // a blank environment: bad CRC
    const cfg = JSON.parse(await fsp.readFile(d.configFile, 'utf8'));
    cfg.bootloader.defaultEnvFile = path.join(d.root, 'boot', 'empty-defaults');
    await fsp.writeFile(d.configFile, JSON.stringify(cfg));
  } else await fsp.rm(d.bootFile);
  return d;
}

const run = (d: TestDevice, o: Partial<InitOptions> = {}) => initDevice({ ...d.opts, trustRoot: rootPem, version: '1.0.0', digest: DIGEST, ...o }, deviceDeps);
const readState = async (d: TestDevice) => JSON.parse(await fsp.readFile(path.join(d.stateDir, 'state.json'), 'utf8'));
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof FerryError ? e.code : String(e)));

async function bootState(d: TestDevice) {
  const cfg = await loadDeviceConfig(d.configFile, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
  return createBootloader(cfg.bootloader, { stateDir: cfg.stateDir }).getState();
}

describe('initDevice', () => {
  it('grub: creates the grubenv that grub-editenv reads, installs the root and commits the booted slot', async () => {
    dev = await freshDevice('grub');
    const r = await run(dev);
    expect(r.changed).toBe(true);
    expect(grubList(dev)).toEqual({ ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0', FERRY_MAX_TRY: '3' });
    expect((await fsp.stat(dev.bootFile)).size).toBe(1024);
    expect(await fsp.readFile(path.join(dev.trustDir, 'roots', 'cert.pem'))).toEqual(await fsp.readFile(rootPem));
    const st = await readState(dev);
    expect(st.slots.A).toMatchObject({ status: 'good', version: '1.0.0', imageDigest: DIGEST });
    expect(Date.parse(st.slots.A.committedAt)).not.toBeNaN();
    expect(st.slots.B).toEqual({ status: 'empty' });
    const s = await deviceStatus(dev.opts, deviceDeps);
    expect(s.booted).toBe('A');
    expect(s.bootloader.state?.slots.A).toEqual({ good: true, attemptsLeft: 3 });
    expect(s.bootloader.state?.slots.B.good).toBe(false);
  });

  it('grub: keeps the other variables of an existing grubenv and the block size; booted B puts B first', async () => {
    dev = await freshDevice('grub');
    execFileSync('grub-editenv', [dev.bootFile, 'create']);
    execFileSync('grub-editenv', [dev.bootFile, 'set', 'saved_entry=rescue', 'ORDER=A B', 'A_OK=1']);
    await run(dev, { booted: 'B' });
    expect(grubList(dev)).toEqual({ saved_entry: 'rescue', ORDER: 'B A', A_OK: '0', A_TRY: '0', B_OK: '1', B_TRY: '0', FERRY_MAX_TRY: '3' });
    expect((await readState(dev)).slots.B.status).toBe('good');
  });

  it('grub: a damaged grubenv is BOOTLOADER_ERROR and nothing is written; --force recreates it', async () => {
    dev = await freshDevice('grub');
    await fsp.writeFile(dev.bootFile, 'not a grub environment block\n'.padEnd(1024, 'x'));
    const err = await run(dev).catch((e: FerryError) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('BOOTLOADER_ERROR');
    expect((err as FerryError).message).toMatch(/is damaged .*--force/);
    await expect(fsp.stat(path.join(dev.stateDir, 'state.json'))).rejects.toThrow();
    await expect(fsp.stat(path.join(dev.trustDir, 'roots', 'cert.pem'))).rejects.toThrow();
    const r = await run(dev, { force: true });
    expect(r.changes).toContain(`bootloader grub: recreate the damaged ${dev.bootFile}`);
    expect(grubList(dev).ORDER).toBe('A B');
  });

  it('uboot: sets BOOT_ORDER and BOOT_<slot>_LEFT through fw_setenv (read back with fw_printenv)', async () => {
    dev = await freshDevice('uboot');
    await run(dev);
    expect(fwPrintenv(dev)).toMatchObject({ BOOT_ORDER: 'A B', BOOT_A_LEFT: '3', BOOT_B_LEFT: '0' });
    expect((await run(dev)).changed).toBe(false);
  });

  it('uboot: a blank environment without defaultEnvFile is BOOTLOADER_ERROR naming the fix', async () => {
    dev = await freshDevice('uboot');
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    delete cfg.bootloader.defaultEnvFile;
    await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
    const err = (await run(dev).catch((e: FerryError) => e)) as FerryError;
    expect(err.code).toBe('BOOTLOADER_ERROR');
    expect(err.message).toContain('defaultEnvFile');
  });

  it('file: writes the boot file the file bootloader reads', async () => {
    dev = await freshDevice('file');
    await run(dev);
    expect(await bootState(dev)).toEqual({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } });
  });

  it('is idempotent: a second run with the same inputs changes no byte and says so', async () => {
    dev = await freshDevice('grub');
    await run(dev, { target: 'kiosk' });
    const files = [dev.bootFile, path.join(dev.stateDir, 'state.json'), path.join(dev.trustDir, 'roots', 'cert.pem')];
    const before = await Promise.all(files.map(async (f) => [await fsp.readFile(f), (await fsp.stat(f)).mtimeMs] as const));
    const r = await run(dev, { target: 'kiosk' });
    expect(r.changed).toBe(false);
    expect(r.changes).toEqual([]);
    const after = await Promise.all(files.map(async (f) => [await fsp.readFile(f), (await fsp.stat(f)).mtimeMs] as const));
    expect(after).toEqual(before);
    expect((await readState(dev)).target).toBe('kiosk');
  });

  it('refuses to replace a provisioned state that differs without --force, and says what --force replaced', async () => {
    dev = await freshDevice('grub');
    await run(dev);
    const st = await readState(dev);
    st.slots.B = { status: 'pending', version: '1.1.0', counter: 110 };
    st.counterFloor = { kiosk: 100 };
    await fsp.writeFile(path.join(dev.stateDir, 'state.json'), JSON.stringify(st));
    const err = (await run(dev).catch((e: FerryError) => e)) as FerryError;
    expect(err.code).toBe('ALREADY_PROVISIONED');
    expect(err.message).toContain('slot B pending 1.1.0');
    expect(err.message).toContain('--force');
    expect((await readState(dev)).slots.B.status).toBe('pending');
    const r = await run(dev, { force: true });
    expect(r.replaces).toEqual([expect.stringMatching(/^device state: slot A good 1\.0\.0, slot B pending 1\.1\.0, counter floor kiosk=100/)]);
    expect((await readState(dev)).slots.B).toEqual({ status: 'empty' });
  });

  it('checks the trust root: a signer certificate is TRUST_INVALID; a different root of the same name needs --force', async () => {
    dev = await freshDevice('file');
    expect(await codeOf(run(dev, { trustRoot: signerPem }))).toBe('TRUST_INVALID');
    await run(dev, { trustRoot: otherRootPem });
    // the same file name, another root's certificate
    await fsp.copyFile(rootPem, otherRootPem);
    expect(await codeOf(run(dev, { trustRoot: otherRootPem }))).toBe('ALREADY_PROVISIONED');
    const r = await run(dev, { trustRoot: otherRootPem, force: true });
    expect(r.replaces).toEqual([`trust root ${path.join(dev.trustDir, 'roots', 'root.pem')}`]);
    expect(await fsp.readFile(path.join(dev.trustDir, 'roots', 'root.pem'))).toEqual(await fsp.readFile(rootPem));
  });

  it('takes the version from the slot\'s os-release (IMAGE_VERSION, through Debian\'s symlink) and warns without a trust root', async () => {
    dev = await freshDevice('file');
    const slotA = path.join(dev.root, 'slots', 'a');
    await fsp.mkdir(path.join(slotA, 'etc'), { recursive: true });
    await fsp.mkdir(path.join(slotA, 'usr/lib'), { recursive: true });
    await fsp.writeFile(path.join(slotA, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID="12"\nIMAGE_VERSION="1.4.2"\n');
    await fsp.symlink('../usr/lib/os-release', path.join(slotA, 'etc/os-release'));
    const r = await initDevice({ ...dev.opts }, deviceDeps);
    expect(r.version).toBe('1.4.2');
    expect((await readState(dev)).slots.A.version).toBe('1.4.2');
    expect(r.warnings).toEqual([expect.stringContaining('no trust root in')]);
  });

  it('writes nothing when the confirmation says no', async () => {
    dev = await freshDevice('grub');
    expect(await codeOf(run(dev, { confirm: async () => false }))).toBe('CANCELLED');
    await expect(fsp.stat(dev.bootFile)).rejects.toThrow();
    await expect(fsp.stat(path.join(dev.stateDir, 'state.json'))).rejects.toThrow();
  });

  it('rejects a malformed digest before touching anything', async () => {
    dev = await freshDevice('grub');
    expect(await codeOf(run(dev, { digest: 'sha256:xyz' }))).toBe('USAGE');
    await expect(fsp.stat(dev.bootFile)).rejects.toThrow();
  });
});

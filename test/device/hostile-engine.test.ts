/**
 * The engine's answers to hostile sticks (issue "A hostile stick can never hurt a
 * device"): verified streaming through the chunk index, bounded decompression, a CRL
 * that is kept from any stick, target binding, and applies that die without a word.
 * Each case also checks that the running slot is untouched and the next good stick installs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { surveyMedia } from '../../src/device/inspect.js';
import { loadState } from '../../src/device/state.js';
import { issueCertificate, revokeCertificate } from '../../src/trust/pki.js';
import { makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry } from '../e2e/device-run.js';
import { snapshotTree } from './extract/tree-snapshot.js';

const running = (dev: TestDevice): string => JSON.stringify(snapshotTree(path.join(dev.root, 'slots', 'a')));

const MiB = 1024 * 1024;
let kit: StickKit;
let good: string;
const devices: TestDevice[] = [];
const mounts: string[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  good = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
});
afterAll(async () => {
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

async function device(spec: Parameters<typeof makeDevice>[0] = {}): Promise<TestDevice> {
  const dev = await makeDevice(spec);
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  await fsp.mkdir(path.join(dev.root, 'slots', 'a', 'etc'), { recursive: true });
  await fsp.writeFile(path.join(dev.root, 'slots', 'a', 'etc', 'running'), 'the running system\n');
  return dev;
}

/** A rootfs folder with one file of `bytes` (random: incompressible; zero: a bomb). */
async function rootfs(name: string, bytes: number, fill: 'random' | 'zero'): Promise<string> {
  const dir = path.join(kit.dir, name);
  await fsp.mkdir(path.join(dir, 'etc'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'etc', 'os-release'), `ID=${name}\n`);
  await fsp.writeFile(path.join(dir, 'data.bin'), fill === 'random' ? randomBytes(bytes) : Buffer.alloc(bytes));
  return `rootfs:${dir}`;
}

async function layerOf(stick: string, id: string): Promise<{ file: string; size: number }> {
  const upd = JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'updates', `${id}.json`), 'utf8'));
  const blob = (d: string) => path.join(stick, 'FERRY', 'oci', 'blobs', 'sha256', d.slice(7));
  const man = JSON.parse(await fsp.readFile(blob(upd.image.manifest.digest), 'utf8'));
  return { file: blob(man.layers[0].digest), size: man.layers[0].size };
}

/** After a refusal: running slot as before, target not activated, state readable with the failure, next good stick installs. */
async function expectRecovers(dev: TestDevice, runningBefore: string, code: string, stateDir = dev.stateDir): Promise<void> {
  expect(running(dev)).toBe(runningBefore);
  const state = await loadState(stateDir);
  expect(state.lastResult).toMatchObject({ action: 'apply', code });
  expect(state.inProgress).toBeUndefined();
  expect(JSON.parse(await fsp.readFile(dev.bootFile, 'utf8')).order[0]).toBe('A');
  await fsp.rm(path.join(stateDir, 'lock'), { force: false }).then(
    () => expect.unreachable('a lock was left behind'),
    () => undefined,
  );
  const r = await applyUpdate({ ...dev.opts, mediaRoot: good }, deviceDeps);
  expect(r.plan.update.id).toBe('kiosk-1.0.0');
}

describe('verified streaming', () => {
  let stick: string;
  beforeAll(async () => {
    // ~12 MiB uncompressed layer: 3 chunks of 4 MiB, so a byte offset maps to a chunk
    stick = await kit.makeStick([{ image: 'v1', input: await rootfs('big', 12 * MiB - 4096, 'random'), compress: 'none', version: '2.0.0', counter: 200 }]);
  });

  it('pins the chunk index in the signed update and installs from it', async () => {
    const upd = JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-2.0.0.json'), 'utf8'));
    expect(upd.image.chunkIndex).toMatchObject({ mediaType: 'application/vnd.ferry.chunks.v1+json' });
    const index = JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'oci', 'blobs', 'sha256', upd.image.chunkIndex.digest.slice(7)), 'utf8'));
    const layer = await layerOf(stick, 'kiosk-2.0.0');
    expect(Object.values(index.blobs as Record<string, string[]>).map((l) => l.length)).toContain(Math.ceil(layer.size / (4 * MiB)));
    const dev = await device();
    await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps);
    expect((await fsp.stat(path.join(dev.root, 'slots', 'b', 'data.bin'))).size).toBe(12 * MiB - 4096);
  });

  it.each([
    ['first', 0],
    ['middle', 1],
    ['last', 2],
  ])('refuses a tampered %s chunk with DIGEST_MISMATCH at that chunk; the slot is emptied and nothing activated', async (_n, k) => {
    const copy = path.join(kit.dir, `tampered-${k}`);
    execFileSync('cp', ['-a', stick, copy]);
    const layer = await layerOf(copy, 'kiosk-2.0.0');
    const fh = await fsp.open(layer.file, 'r+');
    await fh.write(Buffer.from('EVIL'), 0, 4, Math.min(k * 4 * MiB + 600, layer.size - 10));
    await fh.close();
    const dev = await device();
    const before = running(dev);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: copy }, deviceDeps)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', details: { chunk: k } });
    expect(await fsp.readdir(path.join(dev.root, 'slots', 'b'))).toEqual([]);
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('bad');
    await expectRecovers(dev, before, 'DIGEST_MISMATCH');
  });

  it('refuses a swapped chunk index (another valid index under the pinned name) with DIGEST_MISMATCH before touching the target', async () => {
    const copy = path.join(kit.dir, 'swapped');
    execFileSync('cp', ['-a', stick, copy]);
    const upd = JSON.parse(await fsp.readFile(path.join(copy, 'FERRY', 'updates', 'kiosk-2.0.0.json'), 'utf8'));
    const other = JSON.parse(await fsp.readFile(path.join(good, 'FERRY', 'updates', 'kiosk-1.0.0.json'), 'utf8'));
    await fsp.copyFile(path.join(good, 'FERRY', 'oci', 'blobs', 'sha256', other.image.chunkIndex.digest.slice(7)), path.join(copy, 'FERRY', 'oci', 'blobs', 'sha256', upd.image.chunkIndex.digest.slice(7)));
    const dev = await device();
    const before = running(dev);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: copy }, deviceDeps)).rejects.toMatchObject({ code: expect.stringMatching(/^(DIGEST_MISMATCH|SIZE_MISMATCH)$/) });
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('empty'); // refused before mark-bad
    await expectRecovers(dev, before, (await loadState(dev.stateDir)).lastResult!.code!);
  });

  it('refuses media without a chunk index (CHUNK_INDEX_MISSING, target untouched) unless policy.legacyMedia is "preverify"', async () => {
    const legacy = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110, noChunkIndex: true }]);
    const dev = await device();
    const before = running(dev);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: legacy }, deviceDeps)).rejects.toMatchObject({ code: 'CHUNK_INDEX_MISSING' });
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('empty');
    expect(running(dev)).toBe(before);
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    await fsp.writeFile(dev.configFile, JSON.stringify({ ...cfg, policy: { legacyMedia: 'preverify' } }));
    expect((await applyUpdate({ ...dev.opts, mediaRoot: legacy }, deviceDeps)).plan.update.id).toBe('kiosk-1.1.0');
  });
});

describe('bounded work', () => {
  it('stops a decompression bomb at the signed unpackedBytes with LIMIT_EXCEEDED and gives the space back', async () => {
    const bomb = await kit.makeStick([{ image: 'v1', input: await rootfs('bomb', 64 * MiB, 'zero'), version: '3.0.0', counter: 300, unpackedBytes: 1 * MiB }]);
    expect((await layerOf(bomb, 'kiosk-3.0.0')).size).toBeLessThan(1 * MiB);
    const dev = await device();
    const before = running(dev);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: bomb }, deviceDeps)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(await fsp.readdir(path.join(dev.root, 'slots', 'b'))).toEqual([]);
    await expectRecovers(dev, before, 'LIMIT_EXCEEDED');
  });

  it('stops at the free-space reserve when the slot shares a small file system with the state directory, records it there, and the next stick installs', async () => {
    const dev = await device();
    const shared = path.join(dev.root, 'shared');
    await fsp.mkdir(shared);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', shared]);
    mounts.push(shared);
    const stateDir = path.join(shared, 'state');
    const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
    cfg.slots.B = { type: 'dir', path: path.join(shared, 'b') };
    await fsp.writeFile(dev.configFile, JSON.stringify({ ...cfg, stateDir }));
    // no signed unpacked size: the planner only sees the small payload, the write finds out
    const big = await kit.makeStick([{ image: 'v1', input: await rootfs('fill', 64 * MiB, 'zero'), version: '4.0.0', counter: 400, unpackedBytes: null }]);
    const before = running(dev);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: big }, deviceDeps)).rejects.toMatchObject({ code: 'NO_SPACE' });
    expect(await fsp.readdir(path.join(shared, 'b'))).toEqual([]);
    const st = await fsp.statfs(shared);
    expect(st.bavail * st.bsize).toBeGreaterThan(35 * MiB); // the space came back
    await expectRecovers(dev, before, 'NO_SPACE', stateDir);
  });
});

describe('revocation and target binding', () => {
  it('keeps a CRL from a stick that carries nothing else, so the revoked signer is refused on the next stick', async () => {
    const dev = await device();
    const signer = path.join(kit.dir, 'signer-revoked');
    await issueCertificate({ issuerDir: kit.rootDir, profile: 'signer', name: 'ferry test signer R', days: 30, out: signer });
    const signedByIt = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100, signerDir: signer }]);
    const crlOnly = path.join(kit.dir, 'crl-only');
    await fsp.mkdir(path.join(crlOnly, 'FERRY'), { recursive: true });
    await revokeCertificate({ rootDir: kit.rootDir, certFile: path.join(signer, 'cert.pem'), mediaRoot: crlOnly });
    await fsp.rm(path.join(crlOnly, 'FERRY', 'updates'), { recursive: true, force: true });
    await expect(applyUpdate({ ...dev.opts, mediaRoot: crlOnly }, deviceDeps)).rejects.toMatchObject({ code: 'NO_APPLICABLE_UPDATE' });
    expect((await loadState(dev.stateDir)).crlPem).toMatch(/BEGIN X509 CRL/);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: signedByIt }, deviceDeps)).rejects.toMatchObject({ code: 'CERT_REVOKED' });
    // the terminal UI only reads the stick (no apply): the CRL is kept all the same
    const viaTui = await device();
    await surveyMedia(viaTui.opts, deviceDeps, crlOnly, new Date());
    expect((await loadState(viaTui.stateDir)).crlPem).toMatch(/BEGIN X509 CRL/);
    // The refusal carries its reason as data (who, since when), for the terminal UI's own words.
    const seen = await surveyMedia(viaTui.opts, deviceDeps, signedByIt, new Date());
    expect(seen.inputs.candidates[0]!.refusal).toMatchObject({ code: 'CERT_REVOKED', why: { key: 'certRevoked', vars: { subject: expect.stringContaining('ferry test signer R'), at: expect.stringMatching(/^\d{4}-/) } } });
    await expect(applyUpdate({ ...viaTui.opts, mediaRoot: signedByIt }, deviceDeps)).rejects.toMatchObject({ code: 'CERT_REVOKED' });
  });

  it('follows one target name: another name is WRONG_TARGET unless it replaces this one with a counter above its floor', async () => {
    const dev = await device();
    await applyUpdate({ ...dev.opts, mediaRoot: await kit.makeStick([{ image: 'v2', version: '2.0.0', counter: 200 }]) }, deviceDeps);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    let state = await loadState(dev.stateDir);
    expect(state).toMatchObject({ target: 'kiosk', counterFloor: { kiosk: 200 } });
    const legacy = await kit.makeStick([{ image: 'v1', target: 'kiosk-legacy', version: '0.0.1', counter: 1 }]);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: legacy }, deviceDeps)).rejects.toMatchObject({ code: 'WRONG_TARGET' });
    const lowRename = await kit.makeStick([{ image: 'v1', target: 'kiosk2', version: '1.0.0', counter: 150, replaces: ['kiosk'] }]);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: lowRename }, deviceDeps)).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
    const rename = await kit.makeStick([{ image: 'v1', target: 'kiosk2', version: '3.0.0', counter: 300, replaces: ['kiosk'] }]);
    await applyUpdate({ ...dev.opts, mediaRoot: rename }, deviceDeps);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    state = await loadState(dev.stateDir);
    expect(state.target).toBe('kiosk2');
    expect(state.counterFloor.kiosk2).toBe(300);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: await kit.makeStick([{ image: 'v2', version: '9.0.0', counter: 900 }]) }, deviceDeps)).rejects.toMatchObject({ code: 'WRONG_TARGET' });
  });
});

describe('a stick refused as a whole', () => {
  it('is recorded (lastResult, receipt queued) even though no update was ever planned', async () => {
    const dev = await device();
    const fifoStick = path.join(kit.dir, 'fifo-in-updates');
    execFileSync('cp', ['-a', good, fifoStick]);
    execFileSync('mkfifo', [path.join(fifoStick, 'FERRY', 'updates', 'kiosk-9.9.9.json')]);
    const before = running(dev);
    const pending = (await loadState(dev.stateDir)).pendingReceipts.length;
    await expect(applyUpdate({ ...dev.opts, mediaRoot: fifoStick }, deviceDeps)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    const state = await loadState(dev.stateDir);
    expect(state.slots.B.status).toBe('empty');
    expect(state.pendingReceipts.length + (await fsp.readdir(path.join(fifoStick, 'FERRY', 'receipts')).catch(() => [])).length).toBeGreaterThan(pending);
    await expectRecovers(dev, before, 'UNSAFE_MEDIA');
  });
});

describe('an apply that dies without a word', () => {
  it('is recorded by the next apply (INTERRUPTED, target bad, receipt queued) and the next stick installs', async () => {
    const dev = await device();
    ensureBuilt();
    const r = ferry(dev, ['device', 'apply', '--media', good, '--yes'], { FERRY_FAULT_AT: 'mid-write' }).signal;
    expect(r).toBe('SIGKILL');
    let state = await loadState(dev.stateDir);
    expect(state.inProgress).toMatchObject({ action: 'apply', phase: 'writing', targetSlot: 'B', updateId: 'kiosk-1.0.0' });
    await applyUpdate({ ...dev.opts, mediaRoot: good }, deviceDeps);
    state = await loadState(dev.stateDir);
    expect(state.inProgress).toBeUndefined();
    const receipts = (await fsp.readdir(path.join(good, 'FERRY', 'receipts'), { recursive: true })).map(String);
    const texts = await Promise.all(receipts.filter((f) => f.endsWith('.json')).map((f) => fsp.readFile(path.join(good, 'FERRY', 'receipts', f), 'utf8')));
    expect(texts.some((t) => t.includes('"INTERRUPTED"'))).toBe(true);
  });

  it('cut after the bootloader switch, then booted into the update: boot-check records the install as a success and commits it', async () => {
    // the VM power-cut test found it (seed 1186554614): after GRUB's trial boot the try is used
    // up, so "the bootloader boots it next" no longer held and the install was recorded as failed
    const dev = await device({ kind: 'grub', attempts: 1 }); // one try, as the kiosk VM has: the trial boot uses it up
    const stick = path.join(path.dirname(good), `switched-${randomBytes(4).toString('hex')}`);
    execFileSync('cp', ['-a', good, stick]);
    await fsp.rm(path.join(stick, 'FERRY', 'receipts'), { recursive: true, force: true });
    ensureBuilt();
    expect(ferry(dev, ['device', 'apply', '--media', stick, '--yes'], { FERRY_FAULT_AT: 'after-bootloader' }).signal).toBe('SIGKILL');
    expect((await loadState(dev.stateDir)).inProgress).toMatchObject({ phase: 'switching', targetSlot: 'B' });
    expect(await simulateBoot(dev)).toBe('B');
    expect((await bootCheck({ ...dev.opts, mediaRoot: stick }, deviceDeps)).outcome).toBe('committed');
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('good');
    const files = (await fsp.readdir(path.join(stick, 'FERRY', 'receipts'), { recursive: true })).map(String).filter((f) => f.endsWith('.json'));
    const receipts = await Promise.all(files.map(async (f) => JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'receipts', f), 'utf8')) as { action: string; result: string }));
    expect(receipts.filter((x) => x.action === 'apply').map((x) => x.result)).toEqual(['success']);
    await fsp.rm(stick, { recursive: true, force: true });
  });
});

/**
 * Issue 9, finding 2 and its class: only regular files are read from a stick. A FIFO, socket,
 * device node or link at every place ferry reads (and a link at every folder it walks) is
 * refused with UNSAFE_MEDIA within seconds by inspect, verify, the update verifier and the
 * device applier; the device keeps no lock and its target slot is not marked bad.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { deliverReceipts, RECEIPT_SCHEMA, type Receipt } from '../../src/device/receipts.js';
import { emptyState, loadState } from '../../src/device/state.js';
import { archiveMedia } from '../../src/media/archive.js';
import { inspectMedia } from '../../src/media/inspect.js';
import { lockMedia } from '../../src/media/lock.js';
import { openMediaSource } from '../../src/media/source.js';
import { listMediaUpdates } from '../../src/media/updates.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import { verifyMediaUpdates } from '../../src/media/verify-updates.js';
import { fromPem } from '../../src/trust/der-write.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { addTrustFiles, CANARY_TEXT, closeSockets, type Place, placePath, plant, type Special, unblockFifos, within } from './hostile-fixture.js';

const HANG_MS = 8000;
let kit: StickKit;
let good: string;
let canary: string;
let n = 0;
const made: string[] = [];
const devices: TestDevice[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  good = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  await addTrustFiles(good, await fsp.readFile(kit.rootCert, 'utf8'));
  canary = path.join(kit.dir, 'shadow-canary');
  await fsp.writeFile(canary, CANARY_TEXT, { mode: 0o600 });
});
afterEach(() => {
  for (const m of made) unblockFifos(m);
});
afterAll(async () => {
  for (const m of made) unblockFifos(m);
  await closeSockets();
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
});

/** A copy of the good stick with `special` at `place`. */
async function hostileStick(place: Place, special: Special): Promise<string> {
  const media = path.join(kit.dir, `hostile-${++n}`);
  await fsp.cp(good, media, { recursive: true });
  made.push(media);
  await plant(placePath(media, place), special, canary);
  return media;
}

type Op = 'inspect' | 'verify' | 'verify-updates' | 'apply';
const OCI_OPS: Op[] = ['inspect', 'verify', 'verify-updates', 'apply'];
const SIDE_OPS: Op[] = ['verify-updates', 'apply'];

const CASES: Array<[Place, Special, Op[]]> = [
  ['FERRY/oci/oci-layout', 'fifo', OCI_OPS],
  ['FERRY/oci/index.json', 'fifo', OCI_OPS],
  ['manifest-blob', 'fifo', OCI_OPS],
  ['config-blob', 'fifo', OCI_OPS],
  ['layer-blob', 'fifo', ['verify', 'verify-updates', 'apply']],
  ['FERRY/updates/kiosk-1.0.0.json', 'fifo', ['inspect', ...SIDE_OPS]],
  ['FERRY/updates/kiosk-1.0.0.json.p7s', 'fifo', ['inspect', ...SIDE_OPS]],
  ['FERRY/trust/crl.pem', 'fifo', SIDE_OPS],
  ['FERRY/trust/roots/cross.pem', 'fifo', SIDE_OPS],
  ['layer-blob', 'socket', ['verify', 'verify-updates', 'apply']],
  ['FERRY/oci/index.json', 'socket', OCI_OPS],
  ['layer-blob', 'chardev', ['verify', 'verify-updates', 'apply']],
  ['FERRY/oci/oci-layout', 'chardev', OCI_OPS],
  ['layer-blob', 'symlink-canary', ['verify', 'verify-updates', 'apply']],
  ['FERRY/oci/index.json', 'symlink-canary', OCI_OPS],
  ['FERRY/updates/kiosk-1.0.0.json', 'symlink-canary', ['inspect', ...SIDE_OPS]],
  ['FERRY', 'dir-symlink', OCI_OPS],
  ['FERRY/oci', 'dir-symlink', OCI_OPS],
  ['FERRY/oci/blobs', 'dir-symlink', OCI_OPS],
  ['FERRY/oci/blobs/sha256', 'dir-symlink', OCI_OPS],
  ['FERRY/updates', 'dir-symlink', ['inspect', ...SIDE_OPS]],
  ['FERRY/trust', 'dir-symlink', SIDE_OPS],
  ['FERRY/trust/roots', 'dir-symlink', SIDE_OPS],
];

const NOW = new Date();

async function run(op: Op, media: string): Promise<unknown> {
  if (op === 'inspect') return inspectMedia(media);
  if (op === 'verify') return verifyMediaBlobs(media);
  if (op === 'verify-updates') {
    const roots = fromPem(await fsp.readFile(kit.rootCert, 'utf8'), 'CERTIFICATE');
    const r = await verifyMediaUpdates(media, { roots }, { compatible: 'acme,kiosk-v2' }, NOW, { checkBlobs: true });
    return r;
  }
  const dev = await makeDevice();
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  const res = await applyUpdate({ ...dev.opts, mediaRoot: media }, deviceDeps).catch((e: unknown) => e);
  // whatever happened: no lock left behind
  expect(fs.existsSync(path.join(dev.stateDir, 'lock'))).toBe(false);
  if (!(res instanceof Error)) return res;
  // a refusal before the write marks nothing bad and leaves the bootloader as it was
  const state = await loadState(dev.stateDir);
  expect(state.slots.B.status).not.toBe('bad');
  expect(JSON.parse(await fsp.readFile(dev.bootFile, 'utf8'))).toMatchObject({ order: ['A', 'B'], slots: { B: { good: false } } });
  throw res;
}

describe('only regular files are read from a stick', () => {
  it('the good stick passes every operation (the cases below differ from it in one place only)', async () => {
    for (const op of OCI_OPS) await within(run(op, good), 60_000);
  });

  for (const [place, special, ops] of CASES) {
    for (const op of ops) {
      it(`${op}: ${special} at ${place} is UNSAFE_MEDIA at once`, async () => {
        const media = await hostileStick(place, special);
        const res = await within(run(op, media), HANG_MS).then(
          (v) => ({ ok: true, v }),
          (e: unknown) => ({ ok: false, e }),
        );
        expect(res).toMatchObject({ ok: false, e: { code: 'UNSAFE_MEDIA' } });
        const message = (res as { e: Error }).e.message;
        expect(message).toMatch(/do not use this stick; report it to headquarters$/);
        expect(message).not.toMatch(/\n/);
        expect(message).not.toContain('canary-shadow-hash');
      });
    }
  }

  it('ferry archive of a folder with a FIFO at index.json or a blob fails with UNSAFE_MEDIA instead of hanging', async () => {
    for (const place of ['FERRY/oci/index.json', 'layer-blob'] as const) {
      const media = await hostileStick(place, 'fifo');
      await expect(within(archiveMedia({ mediaRoot: media, outFile: path.join(kit.dir, `out-${++n}.tar`) }), HANG_MS)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    }
  });

  it('the HQ write lock refuses a FIFO at FERRY/.lock (UNSAFE_MEDIA) instead of hanging in its read', async () => {
    const media = path.join(kit.dir, `lock-${++n}`);
    await fsp.cp(good, media, { recursive: true });
    made.push(media);
    await plant(path.join(media, 'FERRY', '.lock'), 'fifo', canary);
    await expect(within(lockMedia(media, 'export', { waitMs: 60_000 }), HANG_MS)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
  });

  it('installs from an archive given through a symlinked path (the path given may be a link; the stick inside may not)', async () => {
    const tar = path.join(kit.dir, `stick-${++n}.tar`);
    await archiveMedia({ mediaRoot: good, outFile: tar });
    const link = path.join(kit.dir, `stick-link-${n}.tar`);
    await fsp.symlink(tar, link);
    const r = await within(run('apply', link), 60_000);
    expect(r).toMatchObject({ plan: { target: 'B' } });
  });

  it('a FIFO given as the media (an archive path) is UNSAFE_MEDIA, not a hang', async () => {
    const fifo = path.join(kit.dir, `media-fifo-${++n}`);
    await plant(fifo, 'fifo', canary);
    made.push(path.dirname(fifo));
    await expect(within(openMediaSource(fifo), HANG_MS)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
  });

  it('lists at most 10,000 names in FERRY/updates (LIMIT_EXCEEDED before any is read)', async () => {
    const media = path.join(kit.dir, `many-${++n}`);
    await fsp.cp(good, media, { recursive: true });
    const dir = path.join(media, 'FERRY', 'updates');
    // the manifest and its signature are there already: 9,999 more make 10,001 names
    for (let i = 0; i < 9_999; i++) fs.writeFileSync(path.join(dir, `x-${i}.txt`), '');
    const src = await openMediaSource(media);
    await expect(src.list('updates')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    fs.rmSync(path.join(dir, 'x-0.txt'));
    expect((await src.list('updates')).length).toBe(10_000);
  });

  it('takes at most 64 PEM files from FERRY/trust/roots (LIMIT_EXCEEDED), 64 are fine', async () => {
    const media = path.join(kit.dir, `pems-${++n}`);
    await fsp.cp(good, media, { recursive: true });
    const pem = await fsp.readFile(kit.rootCert, 'utf8');
    for (let i = 1; i < 64; i++) fs.writeFileSync(path.join(media, 'FERRY', 'trust', 'roots', `c-${i}.pem`), pem);
    expect((await listMediaUpdates(media)).crossCerts).toHaveLength(64);
    fs.writeFileSync(path.join(media, 'FERRY', 'trust', 'roots', 'c-64.pem'), pem);
    await expect(listMediaUpdates(media)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/65 PEM files, more than 64: do not use this stick/) });
  });

  it('refuses a stray link or FIFO in a folder it lists even under a name it would not read', async () => {
    const media = await hostileStick('FERRY/updates/kiosk-1.0.0.json.p7s', 'fifo');
    await fsp.rename(placePath(media, 'FERRY/updates/kiosk-1.0.0.json.p7s'), path.join(media, 'FERRY', 'updates', 'README'));
    await fsp.copyFile(path.join(good, 'FERRY', 'updates', 'kiosk-1.0.0.json.p7s'), path.join(media, 'FERRY', 'updates', 'kiosk-1.0.0.json.p7s'));
    await expect(within((async () => (await openMediaSource(media)).list('updates'))(), HANG_MS)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
  });

  it('writes no receipt through a FIFO at FERRY/receipts, nor loops on a folder pre-filled with its names', async () => {
    const at = '2026-11-22T01:00:00.000Z';
    const slots = { A: { status: 'good' as const }, B: { status: 'empty' as const } };
    const receipt: Receipt = { schema: RECEIPT_SCHEMA, action: 'apply', stamp: '20261122T010000.000Z', deviceId: 'dev-1', compatible: 'acme,kiosk', result: 'success', bootedSlot: 'A', before: slots, after: slots, startedAt: at, finishedAt: at, durationMs: 0 };
    const media = path.join(kit.dir, `receipts-${++n}`);
    await fsp.mkdir(path.join(media, 'FERRY'), { recursive: true });
    made.push(media);
    await plant(path.join(media, 'FERRY', 'receipts'), 'fifo', canary);
    const state = emptyState();
    expect(await within(deliverReceipts(media, state, receipt), HANG_MS)).toMatchObject({ written: [], kept: 1, error: expect.stringMatching(/receipts on the media is not a directory.*do not use this stick/) });
    await fsp.rm(path.join(media, 'FERRY', 'receipts'));
    const dir = path.join(media, 'FERRY', 'receipts', 'dev-1');
    await fsp.mkdir(dir, { recursive: true });
    for (let i = 1; i <= 1000; i++) fs.writeFileSync(path.join(dir, `${receipt.stamp}-apply${i === 1 ? '' : `-${i}`}.json`), '');
    expect(await deliverReceipts(media, state, undefined)).toMatchObject({ written: [], kept: 1, error: expect.stringMatching(/already holds 1000 receipts/) });
  });
});

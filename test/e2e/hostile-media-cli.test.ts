/**
 * Issue 9, finding 2 through the built CLI: a FIFO, socket, device node or link on the stick
 * makes `ferry device apply`, `ferry verify` and `ferry inspect` exit 3 with one line
 * error[UNSAFE_MEDIA] within seconds (a hang is a killed child, so a failure here), with no
 * device lock left and the target slot not marked bad.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadState } from '../../src/device/state.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { CANARY_TEXT, closeSockets, type Place, placePath, plant, type Special, unblockFifos } from '../media/hostile-fixture.js';
import { ensureBuilt, ferry, MAIN, NODE } from './device-run.js';

const HANG_MS = 20_000;
let kit: StickKit;
let good: string;
let canary: string;
let n = 0;
const devices: TestDevice[] = [];

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  good = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  canary = path.join(kit.dir, 'shadow-canary');
  await fsp.writeFile(canary, CANARY_TEXT, { mode: 0o600 });
});
afterAll(async () => {
  if (kit) unblockFifos(kit.dir);
  await closeSockets();
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
});

async function hostileStick(place: Place, special: Special): Promise<string> {
  const media = path.join(kit.dir, `cli-hostile-${++n}`);
  await fsp.cp(good, media, { recursive: true });
  await plant(placePath(media, place), special, canary);
  return media;
}

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(NODE, [MAIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: HANG_MS });
}

function expectUnsafe(r: SpawnSyncReturns<string>): void {
  expect(r.signal, `killed after ${HANG_MS} ms: it hung`).toBeNull();
  expect(r.stderr).toMatch(/^ferry: error\[UNSAFE_MEDIA\]: .* do not use this stick; report it to headquarters\n$/);
  expect(r.status).toBe(3);
  expect(r.stdout + r.stderr).not.toContain('canary-shadow-hash');
}

const APPLY: Array<[Place, Special]> = [
  ['FERRY/oci/oci-layout', 'fifo'],
  ['FERRY/oci/index.json', 'fifo'],
  ['layer-blob', 'fifo'],
  ['FERRY/updates/kiosk-1.0.0.json', 'fifo'],
  ['layer-blob', 'socket'],
  ['layer-blob', 'chardev'],
  ['layer-blob', 'symlink-canary'],
  ['FERRY', 'dir-symlink'],
  ['FERRY/oci', 'dir-symlink'],
  ['FERRY/oci/blobs/sha256', 'dir-symlink'],
];

describe('hostile special files through the CLI', () => {
  for (const [place, special] of APPLY) {
    it(`ferry device apply: ${special} at ${place} exits 3 UNSAFE_MEDIA, no lock, slot not marked bad`, async () => {
      const dev = await makeDevice({ extra: { deviceId: `io-hostile-${n}` } });
      devices.push(dev);
      await kit.installTrust(dev.trustDir);
      const media = await hostileStick(place, special);
      const r = ferry(dev, ['device', 'apply', '--media', media, '--yes']);
      expectUnsafe(r);
      expect(fs.existsSync(path.join(dev.stateDir, 'lock'))).toBe(false);
      expect((await loadState(dev.stateDir)).slots.B.status).not.toBe('bad');
      expect(JSON.parse(await fsp.readFile(dev.bootFile, 'utf8'))).toMatchObject({ order: ['A', 'B'], slots: { B: { good: false } } });
    });
  }

  for (const [place, special] of [
    ['FERRY/oci/index.json', 'fifo'],
    ['layer-blob', 'fifo'],
    ['layer-blob', 'symlink-canary'],
    ['FERRY/oci/blobs/sha256', 'dir-symlink'],
  ] as Array<[Place, Special]>) {
    it(`ferry verify: ${special} at ${place} exits 3 UNSAFE_MEDIA`, async () => {
      expectUnsafe(cli(['verify', '--media', await hostileStick(place, special)]));
    });
  }

  for (const [place, special] of [
    ['FERRY/oci/index.json', 'fifo'],
    ['manifest-blob', 'fifo'],
    ['FERRY', 'dir-symlink'],
    ['FERRY/updates/kiosk-1.0.0.json', 'socket'],
  ] as Array<[Place, Special]>) {
    it(`ferry inspect: ${special} at ${place} exits 3 UNSAFE_MEDIA`, async () => {
      expectUnsafe(cli(['inspect', '--media', await hostileStick(place, special)]));
    });
  }

  it('ferry inspect: a FIFO given as --media exits 3 UNSAFE_MEDIA', async () => {
    const fifo = path.join(kit.dir, 'media-fifo');
    await plant(fifo, 'fifo', canary);
    expectUnsafe(cli(['inspect', '--media', fifo]));
  });

  it('the good stick still installs through the CLI', async () => {
    const dev = await makeDevice({ extra: { deviceId: 'io-hostile-good' } });
    devices.push(dev);
    await kit.installTrust(dev.trustDir);
    const r = ferry(dev, ['device', 'apply', '--media', good, '--yes']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

/**
 * An archive written by `ferry archive` used directly as `--media`, through the built CLI:
 * inspect, verify (blobs and signatures), a tampered archive refused, and a device apply
 * that installs from the archive and keeps its receipt in the device state (an archive is
 * read-only), and the same through the TUI's engine. Every CLI child runs with its own
 * empty TMPDIR, which must stay empty: the archive is read in place, never unpacked.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceDeps } from '../../src/device/deps.js';
import { indexTar } from '../../src/oci/tar.js';
import { createEngine } from '../../tui/engine.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, MAIN, NODE } from './device-run.js';

let kit: StickKit;
let dev: TestDevice;
let stick: string;
let tar: string;
let tmpdir: string;
let trust: string;

function ferry(args: string[], extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(NODE, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: tmpdir, FERRY_CMDLINE_FILE: dev.cmdlineFile, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  dev = await makeDevice({ extra: { deviceId: 'kiosk-archive-1' } });
  await kit.installTrust(dev.trustDir);
  trust = dev.trustDir;
  tmpdir = path.join(kit.dir, 'child-tmp');
  fs.mkdirSync(tmpdir);
  tar = path.join(kit.dir, 'stick.tar');
  const r = ferry(['archive', '--media', stick, '--out', tar]);
  expect(r.status, r.stderr).toBe(0);
});
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

/** Nothing may appear in the children's temp dir: no unpacked layout, no copied blob. */
function expectTempUntouched(): void {
  expect(fs.readdirSync(tmpdir)).toEqual([]);
}

describe('ferry archive → --media <file.tar>', () => {
  it('inspects the archive like the stick it was made from (ferry form and GNU tar FERRY/ form)', () => {
    const fromStick = JSON.parse(ferry(['inspect', '--media', stick, '--json']).stdout);
    const r = ferry(['inspect', '--media', tar, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const fromTar = JSON.parse(r.stdout);
    expect(fromTar.images.map((i: { ref: string }) => i.ref)).toEqual(['kiosk-1.0.0']);
    expect({ ...fromTar, mediaRoot: stick }).toEqual(fromStick);
    const gnu = path.join(kit.dir, 'gnu-ferry.tar');
    execFileSync('tar', ['-C', stick, '-cf', gnu, 'FERRY']);
    const g = ferry(['inspect', '--media', gnu]);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/kiosk-1\.0\.0/);
    expectTempUntouched();
  });

  it('verifies every blob and the signature inside the archive', () => {
    const r = ferry(['verify', '--media', tar, '--trust', trust]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok kiosk-1\.0\.0: signed by .*ferry test signer/m);
    expect(r.stdout).toMatch(/^ok: 1 image\(s\), \d+ blobs, \d+ bytes verified; 1 signed update\(s\) checked$/m);
    expectTempUntouched();
  });

  it('refuses a copy of the archive with one byte flipped inside a layer (exit 3, DIGEST_MISMATCH)', async () => {
    const bad = path.join(kit.dir, 'tampered.tar');
    fs.copyFileSync(tar, bad);
    const index = await indexTar(bad);
    const manifestDigest = JSON.parse(fs.readFileSync(path.join(stick, 'FERRY', 'oci', 'index.json'), 'utf8')).manifests[0].digest as string;
    const manifest = JSON.parse(fs.readFileSync(path.join(stick, 'FERRY', 'oci', 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'));
    const layer = index.entries.get(`blobs/sha256/${(manifest.layers[0].digest as string).slice(7)}`)!;
    expect(layer.size).toBeGreaterThan(0);
    const fd = fs.openSync(bad, 'r+');
    const at = layer.offset + Math.floor(layer.size / 2);
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    const r = ferry(['verify', '--media', bad, '--trust', trust]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/error\[DIGEST_MISMATCH\]/);
    expect(r.stderr).toContain(manifest.layers[0].digest);
    expectTempUntouched();
  });

  it('applies from the archive onto a device and keeps the receipt in the device state', () => {
    const before = createHash('sha256').update(fs.readFileSync(tar)).digest('hex');
    const siblings = fs.readdirSync(kit.dir).sort();
    const r = ferry(['device', 'apply', '--media', tar, '--yes', '--json', '--config', dev.configFile]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.0.0' } }, receipt: { result: 'success' }, receipts: { written: [], kept: 1 } });
    expect(out.receipts.error).toMatch(/archive \(read-only\)/);
    // the slot holds the image's files; the archive is unchanged and nothing was written beside it
    expect(fs.readdirSync(path.join(dev.root, 'slots', 'b')).length).toBeGreaterThan(0);
    expect(createHash('sha256').update(fs.readFileSync(tar)).digest('hex')).toBe(before);
    expect(fs.readdirSync(kit.dir).sort()).toEqual(siblings);
    const s = ferry(['device', 'status', '--json', '--config', dev.configFile]);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ pendingReceipts: 1 });
    // the next writable stick gets it
    const f = ferry(['device', 'status', '--json', '--media', stick, '--config', dev.configFile]);
    expect(JSON.parse(f.stdout)).toMatchObject({ pendingReceipts: 0 });
    expect(fs.readdirSync(path.join(stick, 'FERRY', 'receipts', 'kiosk-archive-1'))).toEqual([expect.stringMatching(/-apply\.json$/)]);
    expectTempUntouched();
  });

  it('lets the TUI engine list, verify and apply from the archive (receipt kept on the device)', async () => {
    const dev2 = await makeDevice({ extra: { deviceId: 'kiosk-archive-2' } });
    const saved = process.env.FERRY_CMDLINE_FILE;
    process.env.FERRY_CMDLINE_FILE = dev2.cmdlineFile;
    try {
      await kit.installTrust(dev2.trustDir);
      const engine = createEngine({ configFile: dev2.configFile, deps: deviceDeps });
      const listing = await engine.listUpdates(tar);
      expect(listing.updates.map((u) => [u.id, u.version, u.problem])).toEqual([['kiosk-1.0.0', '1.0.0', undefined]]);
      const seen: number[] = [];
      await engine.verifyBlobs(tar, 'kiosk-1.0.0', (e) => void seen.push(e.bytesDone), new AbortController().signal);
      expect(seen.at(-1)).toBeGreaterThan(0);
      const out = await engine.apply(tar, 'kiosk-1.0.0', () => undefined, new AbortController().signal);
      expect(out).toMatchObject({ slot: 'B', version: '1.0.0' });
      expect(out.receiptPath).toBeUndefined();
      expect(out.receiptWait).toMatchObject({ code: 'READ_ONLY_MEDIA', detail: expect.stringMatching(/archive \(read-only\)/) });
      await expect(engine.listUpdates(path.join(kit.dir, 'stick.tar.missing'))).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND' });
    } finally {
      if (saved === undefined) delete process.env.FERRY_CMDLINE_FILE;
      else process.env.FERRY_CMDLINE_FILE = saved;
      await dev2.cleanup();
    }
  });

  it('says what is wrong with a tar that is not ferry media', () => {
    const other = path.join(kit.dir, 'other.tar');
    execFileSync('tar', ['-C', kit.dir, '-cf', other, 'child-tmp']);
    const r = ferry(['inspect', '--media', other]);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/^ferry: error\[INVALID_LAYOUT\]: .*not an archive written by ferry archive/);
  });
});

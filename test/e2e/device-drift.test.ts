/** `ferry device drift` through the built CLI: exit 0 when clean, exit 6 with DRIFT_FOUND when not, --json. */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry } from './device-run.js';

let kit: StickKit;
let dev: TestDevice;
let stick: string;

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  dev = await makeDevice();
  await kit.installTrust(dev.trustDir);
  stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  const r = ferry(dev, ['device', 'apply', '--media', stick, '--yes']);
  expect(r.status, r.stderr).toBe(0);
});
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

describe('ferry device drift', () => {
  it('exits 0 on a clean slot and 6 with DRIFT_FOUND (text and --json) once a file changed', async () => {
    const clean = ferry(dev, ['device', 'drift', '--slot', 'B']);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^slot B: matches kiosk-1\.0\.0 \(/);
    await fsp.writeFile(path.join(dev.root, 'slots', 'b', 'etc', 'hostname'), 'other\n');
    const text = ferry(dev, ['device', 'drift', '--slot', 'B']);
    expect(text.status).toBe(6);
    expect(text.stdout).toContain('M /etc/hostname');
    expect(text.stderr).toMatch(/^ferry: error\[DRIFT_FOUND\]: slot B: 1 entry differs from kiosk-1\.0\.0/);
    const json = ferry(dev, ['device', 'drift', '--slot', 'B', '--json', '--ignore', '/etc/hostname']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, drift: { clean: true } });
    const bad = ferry(dev, ['device', 'drift', '--slot', 'B', '--json', '--fast']);
    expect(bad.status).toBe(6);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 'DRIFT_FOUND' }, drift: { counts: { content: 1 }, items: [{ path: '/etc/hostname', change: 'content' }] } });
  });
});

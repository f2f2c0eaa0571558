/**
 * `ferry device drift` through the built CLI: exit 0 when clean, exit 6 with DRIFT_FOUND when
 * not, --json; `ferry inspect --diff` between two updates exported with --file-index.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { spawnSync } from 'node:child_process';
import { ensureBuilt, ferry, MAIN, NODE } from './device-run.js';

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

describe('ferry inspect --diff', () => {
  const hq = (args: string[]) => spawnSync(NODE, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });

  it('lists added, removed and changed files with sizes (text and --json), and needs two ids', async () => {
    const media = await kit.makeStick([
      { image: 'v1', version: '1.0.0', counter: 100, fileIndex: true },
      { image: 'v2', version: '1.1.0', counter: 110, fileIndex: true },
    ]);
    const text = hq(['inspect', '--media', media, '--diff', 'kiosk-1.0.0', 'kiosk-1.1.0']);
    expect(text.status, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^kiosk-1\.0\.0 -> kiosk-1\.1\.0: 2 added \(.+\), 3 removed \(42 B\), 2 changed \(.+\), \d+ unchanged$/);
    expect(lines).toContain('+ /usr/bin/newtool  24 B');
    expect(lines).toContain('- /opt/app/old-a.txt  6 B');
    expect(lines.some((l) => /^M \/usr\/share\/doc\/readme\.txt  14 B -> 33 B  \(content\)$/.test(l))).toBe(true);
    const json = hq(['inspect', '--media', media, '--diff', 'kiosk-1.0.0', 'kiosk-1.1.0', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, diff: { from: 'kiosk-1.0.0', to: 'kiosk-1.1.0', bytes: { removed: 42 } } });
    const one = hq(['inspect', '--media', media, '--diff', 'kiosk-1.0.0']);
    expect(one.status).toBe(2);
    const noIndex = hq(['inspect', '--media', stick, '--diff', 'kiosk-1.0.0', 'kiosk-1.0.0']);
    expect(noIndex.stderr).toMatch(/error\[FILE_INDEX_MISSING\]/);
  });

  it('refuses export --file-index without --signer', () => {
    const r = hq(['export', '--image', kit.samples.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', kit.dir, '--file-index']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--file-index needs --signer/);
  });
});

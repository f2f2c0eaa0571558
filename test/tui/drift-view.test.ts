/**
 * The Device screen's Files line and its detail view, with the real engine on a real device:
 * "System matches image 1.0.0" right after install and reboot, the count and the list once a
 * file changed, nothing for a system ferry has no file list for.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { App } from '../../tui/app.js';
import { overlay } from '../../tui/details.js';
import { createEngine } from '../../tui/engine.js';
import { UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
let dev: TestDevice;

beforeAll(async () => {
  kit = await makeStickKit();
  dev = await makeDevice();
  await kit.installTrust(dev.trustDir);
  await applyUpdate({ ...dev.opts, mediaRoot: await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]) }, deviceDeps);
});
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

async function deviceScreen(lang: 'en' | 'de' = 'en') {
  process.env.FERRY_CMDLINE_FILE = dev.cmdlineFile;
  const engine = createEngine({ configFile: dev.configFile, deps: deviceDeps });
  let landed: () => void = () => undefined;
  const done = new Promise<void>((r) => (landed = r));
  const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => [], changed: () => (app?.state.device.drift?.state ?? 'checking') !== 'checking' && landed(), quit: () => undefined, strings: stringsFor(lang) });
  await app.refreshDevice();
  await done;
  const text = frameFor(app.state, stringsFor(lang), { width: 80, height: 24 }).lines.map((l) => l.text);
  return { app, text, detail: overlay('detail', app.state, stringsFor(lang)).lines };
}

describe('the Device screen Files line', () => {
  it('shows nothing for a running system ferry has no file list for (the factory slot A)', async () => {
    await dev.setBooted('A');
    const { app, text } = await deviceScreen();
    expect(app.state.device.drift).toEqual({ state: 'unknown' });
    expect(text.some((l) => l.startsWith('Files'))).toBe(false);
  });

  it('says the system matches its image after booting into it, and counts and lists a change (English and German)', async () => {
    await dev.setBooted('B');
    const clean = await deviceScreen();
    expect(clean.text).toContain('Files       System matches image 1.0.0');
    await fsp.writeFile(path.join(dev.root, 'slots', 'b', 'etc', 'hostname'), 'changed\n');
    await fsp.rm(path.join(dev.root, 'slots', 'b', 'usr', 'share', 'doc', 'readme.txt'));
    const drift = await deviceScreen();
    expect(drift.text).toContain('Files       2 files differ from image 1.0.0 (d lists them)');
    expect(drift.detail).toEqual(expect.arrayContaining(['Files: 2 files differ from image 1.0.0 (d lists them)', '  M /etc/hostname', '  - /usr/share/doc/readme.txt']));
    const de = await deviceScreen('de');
    expect(de.text).toContain('Dateien     2 Dateien weichen von Abbild 1.0.0 ab (d listet sie)');
  });
});

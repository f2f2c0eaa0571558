/** The Confirm screen says "writes X of Y (only what changed)" when the apply will write incrementally (real engine, real device). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { createEngine } from '../../tui/engine.js';
import { initialState, UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
let dev: TestDevice;
let stick: string;

beforeAll(async () => {
  kit = await makeStickKit();
  dev = await makeDevice();
  await kit.installTrust(dev.trustDir);
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100, input: `rootfs:${kit.samples.rootfsV1}`, fileIndex: true },
    { image: 'v1', version: '1.1.0', counter: 110, input: `rootfs:${kit.samples.rootfsV2}`, fileIndex: true },
    { image: 'v1', version: '1.2.0', counter: 120, input: `rootfs:${kit.samples.rootfsV2}` },
  ]);
  await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
});
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

function confirmText(plan: Awaited<ReturnType<ReturnType<typeof createEngine>['plan']>>, lang: 'en' | 'de'): string[] {
  const st = initialState(UNICODE_GLYPHS);
  st.screen = 'confirm';
  st.confirm = { plan, focus: 0 };
  return frameFor(st, stringsFor(lang), { width: 80, height: 24 }).lines.map((l) => l.text);
}

describe('the Confirm screen', () => {
  it('shows how much of the image an incremental write writes, and the plain size otherwise', async () => {
    process.env.FERRY_CMDLINE_FILE = dev.cmdlineFile;
    const engine = createEngine({ configFile: dev.configFile, deps: deviceDeps });
    const plan = await engine.plan(stick, 'kiosk-1.1.0');
    expect(plan.incremental?.changedBytes).toBeGreaterThan(0);
    expect(plan.incremental!.changedBytes).toBeLessThan(plan.incremental!.totalBytes / 100);
    expect(confirmText(plan, 'en').some((l) => /^Write {7}writes \d+ B of 1\.\d+ MiB \(only what changed\), /.test(l))).toBe(true);
    expect(confirmText(plan, 'de').some((l) => /schreibt \d+ B von 1[.,]\d+ MiB \(nur Geändertes\)/.test(l))).toBe(true);
    const plain = await engine.plan(stick, 'kiosk-1.2.0'); // no file index on the stick: a full write
    expect(plain.incremental).toBeUndefined();
    expect(confirmText(plain, 'en').some((l) => l.includes('only what changed'))).toBe(false);
  });
});

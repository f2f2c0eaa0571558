/**
 * `ferry device status` speaks in versions: the anti-rollback floor is shown as the
 * version a technician recognises, never as a raw counter; the counter stays in --json
 * beside the version.
 */
import * as fsp from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceDeps, formatStatus, status } from '../../src/device/index.js';
import { emptyState, saveState } from '../../src/device/state.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

/** A device running B (kiosk 1.1.0, counter 110) with A holding 1.0.0 (counter 100), and the floor at `floor`. */
async function device(floor: number): Promise<TestDevice> {
  dev = await makeDevice({ kind: 'file' });
  const s = emptyState();
  s.slots.A = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
  s.slots.B = { status: 'good', target: 'kiosk', version: '1.1.0', counter: 110 };
  s.counterFloor = { kiosk: floor };
  await saveState(dev.stateDir, s);
  await fsp.writeFile(dev.bootFile, JSON.stringify({ order: ['B', 'A'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: true, attemptsLeft: 3 } } }));
  await dev.setBooted('B');
  return dev;
}

describe('device status', () => {
  it('shows the anti-rollback floor as a version, and no raw counter anywhere in the human lines', async () => {
    const d = await device(110);
    const st = await status(d.opts, deviceDeps);
    const text = formatStatus(st).join('\n');
    expect(text).toContain('anti-rollback floor: kiosk: versions older than 1.1.0 are refused');
    expect(text).not.toMatch(/counter|\b110\b|\b100\b|≥/);
    // --json keeps the counter, beside the version.
    expect(st.counterFloor).toEqual({ kiosk: 110 });
    expect(st.floorVersions).toEqual({ kiosk: '1.1.0' });
  });

  it('says so when no slot still holds the floor release, instead of printing its counter', async () => {
    const d = await device(120);
    const st = await status(d.opts, deviceDeps);
    const text = formatStatus(st).join('\n');
    expect(st.floorVersions).toEqual({});
    expect(text).toContain('anti-rollback floor: kiosk: set (no slot still holds that release');
    expect(text).not.toMatch(/\b120\b/);
  });

  it('says "none yet" on a fresh device', async () => {
    dev = await makeDevice({ kind: 'file' });
    const text = formatStatus(await status(dev.opts, deviceDeps)).join('\n');
    expect(text).toContain('anti-rollback floor: none yet');
  });
});

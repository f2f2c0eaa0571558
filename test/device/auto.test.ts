/**
 * autoApply on a throwaway device with real signed sticks and the real apply, with the clock and
 * the wait injected: outside the window the update is staged and, when the (fake) wait reaches the
 * window's opening, the stick is verified again and the update installed. No real waiting.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoApply, type AutoEvent } from '../../src/device/auto.js';
import { apply, deviceDeps } from '../../src/device/index.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
let stick: string;
let dev: TestDevice;
const pad = (n: number) => String(n).padStart(2, '0');
/** Local HH:MM of a time (the window is in local time). */
const hm = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;

beforeAll(async () => {
  kit = await makeStickKit();
  stick = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
}, 300_000);
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

describe('autoApply', () => {
  it('stages outside the window, then installs when the window opens with the stick still in', async () => {
    const real = Date.now();
    const window = `${hm(new Date(real + 2 * 3600_000))}-${hm(new Date(real + 3 * 3600_000))}`;
    dev = await makeDevice({ kind: 'file', extra: { deviceId: 'kiosk-auto-lib', onInsert: 'auto', window } });
    await kit.installTrust(dev.trustDir);
    let now = real;
    const events: AutoEvent['kind'][] = [];
    const slept: number[] = [];
    let stateWhileWaiting: Record<string, unknown> | undefined;
    const r = await autoApply(
      {
        ...dev.opts,
        mediaRoot: stick,
        clock: () => new Date(now),
        sleep: async (ms) => {
          slept.push(ms);
          stateWhileWaiting = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
          now += ms;
        },
        report: (e) => events.push(e.kind),
        install: async (plan) => ({ slot: (await apply({ ...dev.opts, mediaRoot: stick, updateId: plan.update.id }, deviceDeps)).plan.target }),
      },
      deviceDeps,
    );
    expect(r).toEqual({ kind: 'installed', updateId: 'kiosk-1.1.0', version: '1.1.0', slot: 'B', rebooted: false });
    expect(events).toEqual(['chosen', 'staged', 'window-open', 'chosen']);
    expect(slept).toHaveLength(1);
    // it waits until the window opens: the start minute of now + 2 h
    expect(slept[0]!).toBeGreaterThan(3600_000);
    expect(slept[0]!).toBeLessThanOrEqual(2 * 3600_000);
    expect(stateWhileWaiting?.pendingApply).toMatchObject({ updateId: 'kiosk-1.1.0', counter: 110, mediaRoot: stick });
    const after = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
    expect(after.pendingApply).toBeUndefined();
    expect(after.slots.B).toMatchObject({ status: 'pending', version: '1.1.0' });
  });
});

import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveNow, emptyState, loadState, raiseFloor, raiseTrustedTime, saveState, statePath } from '../../src/device/state.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-state-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('device state', () => {
  it('starts empty when no state.json exists and round-trips through an atomic save', async () => {
    const sd = path.join(dir, 'a');
    expect(await loadState(sd)).toEqual(emptyState());
    const s = emptyState();
    s.slots.B = { status: 'pending', version: '1.1.0', counter: 11, target: 'kiosk', updateId: 'kiosk-1.1.0', imageDigest: 'sha256:' + 'a'.repeat(64), installedAt: new Date(0).toISOString() };
    await saveState(sd, s);
    expect(await loadState(sd)).toEqual(s);
    expect((await fsp.readdir(sd)).filter((n) => n.startsWith('.ferry-tmp-'))).toEqual([]);
    expect((await fsp.stat(statePath(sd))).mode & 0o777).toBe(0o600);
  });

  it('refuses a damaged state.json with STATE_INVALID and says how to recover', async () => {
    const sd = path.join(dir, 'b');
    await fsp.mkdir(sd);
    await fsp.writeFile(statePath(sd), '{"schema":"ferry.device-state/v1","slots":{"A":{"status":"weird"}},"counterFloor":{"k":"x"},"pendingReceipts":[]}');
    await expect(loadState(sd)).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/slots.A.status.*slots.B must be an object.*counterFloor.*move it away/) });
    await fsp.writeFile(statePath(sd), '{"schema":');
    await expect(loadState(sd)).rejects.toMatchObject({ code: 'STATE_INVALID' });
  });

  it('only ever raises the counter floor and the trusted time', () => {
    const s = emptyState();
    raiseFloor(s, 'kiosk', 10);
    raiseFloor(s, 'kiosk', 7);
    expect(s.counterFloor.kiosk).toBe(10);
    raiseTrustedTime(s, new Date('2026-11-01T00:00:00Z'));
    raiseTrustedTime(s, new Date('2020-01-01T00:00:00Z'));
    expect(s.trustedTime).toBe('2026-11-01T00:00:00.000Z');
    // A device clock reset to 2020 (dead RTC) is evaluated at the trusted time instead.
    expect(effectiveNow(s, new Date('2020-01-01T00:00:00Z')).toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
});

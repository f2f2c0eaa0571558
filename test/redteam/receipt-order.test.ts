/**
 * Red team: "any failure leaves a record". Receipts are written onto the stick, which an
 * attacker controls: a hostile USB device can stall a write for ever (or the stick is
 * pulled and the kernel hangs the write), and the process is then killed. Whatever the
 * stick does from then on, state.json must already say how this apply ended: the state
 * is saved before the first byte of a receipt goes to the stick.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import type { ProgressEvent } from '../../src/progress.js';
import { deviceDeps } from '../../src/device/deps.js';
import { type Jail, makeJail, removeJail } from '../helpers/hostile-device.js';
import { type HostileKit, makeHostileKit } from '../helpers/hostile-stick.js';
import { tarArchive } from '../helpers/layers.js';

let hk: HostileKit;
let jail: Jail;
let good: string;

beforeAll(async () => {
  hk = await makeHostileKit();
  good = await hk.newMedia();
  await hk.publish(good, { layers: [{ tar: tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/hostname', data: 'k\n' }]) }], version: '2.0.0', counter: 2000 });
  jail = await makeJail(hk.kit);
}, 120_000);

afterAll(async () => {
  if (jail) await removeJail(jail);
  await hk?.cleanup();
});

/** state.json's lastResult as it is on disk when the receipt step starts writing to the stick. */
function spyOnReceiptStep(stateDir: string, started: string): { seen: () => unknown; progress: (e: ProgressEvent) => void } {
  let seen: unknown = 'receipt step never started';
  return {
    seen: () => seen,
    progress: (e) => {
      if (e.step !== 'receipt' || e.bytesDone !== 0) return;
      const s = JSON.parse(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')) as { lastResult?: { at: string; result: string; code?: string } };
      seen = s.lastResult && s.lastResult.at >= started ? { result: s.lastResult.result, code: s.lastResult.code } : 'not recorded yet';
    },
  };
}

describe('red team: the state is saved before receipts are written to the stick', () => {
  it('records a success before the receipt write starts', async () => {
    const started = new Date(Date.now() - 1000).toISOString();
    const spy = spyOnReceiptStep(jail.dev.stateDir, started);
    await applyUpdate({ ...jail.dev.opts, mediaRoot: good, progress: spy.progress }, deviceDeps);
    expect(spy.seen()).toEqual({ result: 'success', code: undefined });
  });

  it('records "nothing to do" before the receipt write starts', async () => {
    const started = new Date(Date.now() - 1000).toISOString();
    const spy = spyOnReceiptStep(jail.dev.stateDir, started);
    await expect(applyUpdate({ ...jail.dev.opts, mediaRoot: good, progress: spy.progress }, deviceDeps)).rejects.toMatchObject({ code: 'ALREADY_INSTALLED' });
    expect(spy.seen()).toEqual({ result: 'nothing-to-do', code: 'ALREADY_INSTALLED' });
  });
});

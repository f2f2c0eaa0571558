/**
 * Red team: a stick that stalls every write (a hostile USB device; here an ext4 stick frozen
 * with fsfreeze) must not keep a device decision out of its state. mark-good and boot-check
 * change floors, slots and the bootloader; their state is saved before the receipt goes to
 * the stick, so while the write hangs state.json already tells the truth.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceDeps, markGood } from '../../src/device/index.js';
import { emptyState, loadState, saveState } from '../../src/device/state.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {
      /* keep cleaning */
    }
  }
  cleanups = [];
});

/** An ext4 stick on a loop device, mounted; returns its mount point. */
async function ext4Stick(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-redteam-frozen-'));
  const img = path.join(dir, 'stick.img');
  const mnt = path.join(dir, 'mnt');
  await fsp.mkdir(mnt);
  execFileSync('truncate', ['-s', '16M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  cleanups.push(() => void execFileSync('rm', ['-rf', dir]));
  cleanups.push(() => void execFileSync('losetup', ['-d', loop]));
  execFileSync('mount', ['-o', 'noatime', loop, mnt]);
  cleanups.push(() => void execFileSync('umount', [mnt]));
  await fsp.mkdir(path.join(mnt, 'FERRY', 'receipts'), { recursive: true });
  return mnt;
}

function freeze(mnt: string): () => void {
  execFileSync('fsfreeze', ['--freeze', mnt]);
  let frozen = true;
  const thaw = () => {
    if (frozen) execFileSync('fsfreeze', ['--unfreeze', mnt]);
    frozen = false;
  };
  cleanups.push(thaw);
  return thaw;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('red team: a stick that stalls the receipt write', () => {
  it('mark-good: the commit (floor, slot, lastResult) is in state.json while the stick hangs', async () => {
    const dev: TestDevice = await makeDevice({ kind: 'file' });
    cleanups.push(() => void execFileSync('rm', ['-rf', dev.root]));
    const s = emptyState();
    s.slots.A = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
    s.slots.B = { status: 'pending', target: 'kiosk', version: '1.1.0', counter: 110 };
    s.counterFloor = { kiosk: 100 };
    await saveState(dev.stateDir, s);
    await fsp.writeFile(dev.bootFile, JSON.stringify({ order: ['B', 'A'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: true, attemptsLeft: 3 } } }));
    await dev.setBooted('B');
    const stick = await ext4Stick();
    const thaw = freeze(stick);
    const run = markGood({ ...dev.opts, mediaRoot: stick }, deviceDeps).then(
      (r) => r,
      (e: unknown) => e,
    );
    const saved = await until(async () => (await loadState(dev.stateDir)).counterFloor.kiosk === 110, 15_000);
    thaw();
    const r = await run;
    expect(saved, 'the floor was not in state.json while the stick stalled the receipt write').toBe(true);
    expect(r).toMatchObject({ slot: 'B' });
    const after = await loadState(dev.stateDir);
    expect(after.pendingReceipts).toHaveLength(0);
  }, 60_000);
});

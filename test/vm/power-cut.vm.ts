/**
 * Scenario 4, power cuts: QEMU is SIGKILLed (no guest shutdown: the guest's page cache is
 * lost, as in a real power cut) at seeded random moments during the in-guest apply and
 * during boot-check/commit of the new slot. After each cut, on the disk image: state.json
 * parses, the grubenv lists, slot A (never written) may still boot; on the stick: the
 * layout still verifies. The next boot must come up in a good slot and re-runs the apply;
 * the last run is not cut and must complete (B committed). A failure prints the seed and
 * the moment; replay with `npm run test:vm -- --seed N`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBuild } from './build.js';
import { type Case, dropCase, extractStick, grubenv, type KioskBuild, newCase, readState, setScenario, Vm } from './kiosk.js';

const LONG = process.env.FERRY_VM_LONG === '1';
const WANT = { apply: LONG ? 30 : 8, bootCheck: LONG ? 10 : 4 };
const SEED = Number(process.env.FERRY_VM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BOOT = 10 * 60_000;

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let build: KioskBuild;
let work: string;
beforeAll(() => {
  build = readBuild(inject('kioskDir'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-cut-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** What the kiosk was doing when the plug was pulled, from the last events. */
function phaseAt(events: string[]): 'apply' | 'boot-check' | 'other' {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (/^apply (exit|json|stderr)/.test(e) || /^boot-check (exit|json|stderr)/.test(e) || e === 'reboot' || e === 'power off') return 'other';
    if (e.startsWith('apply start')) return 'apply';
    if (e.startsWith('booted slot')) return 'boot-check';
  }
  return 'other';
}

/** The invariants after a cut, read from the images. */
function checkAfterCut(c: Case, where: string): void {
  const st = readState(c); // parses: never torn
  expect(['good', 'bad', 'pending', 'empty'], where).toContain(st.slots.B.status);
  expect(st.slots.A.status, where).toBe('good');
  const env = grubenv(c);
  expect(env.A_OK, `${where}: slot A must stay bootable`).toBe('1');
  if (env.B_OK === '1') expect(['pending', 'good'], `${where}: B may boot only once written and recorded`).toContain(st.slots.B.status);
  const into = fs.mkdtempSync(path.join(work, 'stick-'));
  try {
    extractStick(c, into);
    const trust = path.join(build.dir, 'pki', 'trust');
    fs.mkdirSync(path.join(trust, 'roots'), { recursive: true });
    fs.copyFileSync(path.join(build.dir, 'pki', 'root', 'cert.pem'), path.join(trust, 'roots', 'root.pem'));
    execFileSync(path.join(REPO_DIST, 'ferry'), ['verify', '--media', into, '--trust', trust], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${where}: the stick layout does not verify after the cut: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  } finally {
    fs.rmSync(into, { recursive: true, force: true });
  }
}

const REPO_DIST = path.resolve(import.meta.dirname, '..', '..', 'dist', 'device');

describe(`power cuts (seed ${SEED}; ${WANT.apply} during apply, ${WANT.bootCheck} during boot-check)`, () => {
  it('every cut leaves a bootable good slot, readable state, a valid stick; the re-run completes', async () => {
    const rnd = prng(SEED);
    const done = { apply: 0, bootCheck: 0 };
    // first guesses of how long each phase takes here; measured as runs complete
    const took = { apply: 150_000, bootCheck: 60_000 };
    let c = newCase(build, work, 'cut-0');
    let fresh = 0;
    const log: string[] = [];
    for (let round = 0; done.apply < WANT.apply || done.bootCheck < WANT.bootCheck; round++) {
      expect(round, `too many rounds; cuts so far ${JSON.stringify(done)}\n${log.join('\n')}`).toBeLessThan(4 * (WANT.apply + WANT.bootCheck));
      setScenario(c, ['apply', 'apply', 'apply']);
      const vm = new Vm(c);
      const booted = await vm.waitFor(/^booted slot [AB] /, BOOT);
      // a good slot came up after the previous cut: A, or B once written, recorded and switched
      if (round > 0) expect(booted.line, `seed ${SEED} round ${round}: ${log.at(-1)}`).toMatch(/^booted slot (A version 1\.0\.0|B version 1\.1\.0)$/);
      const wantApply = done.apply < WANT.apply;
      let moment: number;
      let target: string;
      const onB = booted.line.startsWith('booted slot B');
      if (onB && readStateSafe(c) === 'pending' && done.bootCheck < WANT.bootCheck) {
        target = 'boot-check';
        moment = rnd() * took.bootCheck;
      } else if (wantApply && !onB) {
        const s = await vm.waitFor(/^apply start|^apply exit/, BOOT, booted.index);
        target = 'apply';
        moment = rnd() * took.apply * 1.1;
        if (!s.line.startsWith('apply start')) moment = 0;
      } else {
        // nothing to cut here (B committed, or only boot-check cuts left and A booted): let it run
        target = 'none';
        moment = -1;
      }
      if (moment < 0) {
        const t0 = Date.now();
        await vm.waitExit(BOOT * 2);
        log.push(`round ${round}: uncut run (${((Date.now() - t0) / 1000).toFixed(0)} s): ${vm.events().join(' | ').slice(0, 400)}`);
      } else {
        const t0 = Date.now();
        await new Promise((r) => setTimeout(r, moment));
        const phase = phaseAt(vm.events());
        await vm.kill();
        const where = `seed ${SEED} round ${round}: cut ${(moment / 1000).toFixed(1)} s into ${target} (phase ${phase})`;
        log.push(`${where}; events: ${vm.events().slice(booted.index).join(' | ').slice(0, 300)}`);
        if (phase === 'apply') done.apply++;
        if (phase === 'boot-check') done.bootCheck++;
        checkAfterCut(c, where);
        void t0;
      }
      measure(vm.events(), vm, took);
      if (readStateSafe(c) === 'good') {
        // committed: nothing left to cut on this disk; start again from a fresh device
        await dropCase(c);
        c = newCase(build, work, `cut-${++fresh}`);
      }
    }
    // the re-run after the last cut completes: apply (if still needed), B boots and commits
    setScenario(c, ['apply', 'apply', 'apply']);
    const vm = new Vm(c);
    await vm.waitExit(BOOT * 3);
    const st = readState(c);
    expect(st.slots.B, `seed ${SEED}: the final re-run must commit B\n${vm.events().join('\n')}\n${log.join('\n')}`).toMatchObject({ status: 'good', version: '1.1.0' });
    console.log(`power cuts (seed ${SEED}): ${done.apply} during apply, ${done.bootCheck} during boot-check\n${log.join('\n')}`);
  });
});

function readStateSafe(c: Case): string | undefined {
  try {
    return readState(c).slots.B.status;
  } catch {
    return undefined;
  }
}

/** Learn how long apply and boot-check take on this machine from the event times. */
function measure(events: string[], vm: Vm, took: { apply: number; bootCheck: number }): void {
  void events;
  const t = vm.eventTimes();
  const start = t.find((e) => e.event.startsWith('apply start'));
  const end = t.find((e) => e.event.startsWith('apply exit 0'));
  if (start && end) took.apply = end.at - start.at;
  const b = t.find((e) => e.event.startsWith('booted slot B'));
  const bc = b && t.find((e) => e.at >= b.at && e.event.startsWith('boot-check exit'));
  if (b && bc) took.bootCheck = bc.at - b.at;
}

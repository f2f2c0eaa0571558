/**
 * The power-cut machinery of power-cut.vm.ts: a seeded PRNG, when to pull the plug (seeded
 * delays after markers the guest prints on its serial console), and what must hold on the
 * images after a cut and after a disk's history completes.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { type Case, dataLs, grubenv, type KioskBuild, readState, REPO, stickReceipts, type Vm, extractStick, bootLs } from './kiosk.js';

/** The seeded PRNG of the tar fuzz (mulberry32), so a failing cut sequence can be replayed. */
export { prng } from '../device/extract/tar-fuzz.js';

/** How long the phases take on this machine (ms), learnt from uncut phases. */
export interface Took {
  /** `apply start` to `apply exit 0`. */
  apply: number;
  /** ferry's `sync` progress line (state records the install; bootloader switch, state, receipts follow) to `apply exit 0`. */
  tail: number;
  /** `boot-check start` to `boot-check exit` on the new slot. */
  bootCheck: number;
  /** `apply start` to ferry's first `write` progress line (start-up, signature and plan checks). */
  verify: number;
}

/** One power cut: the phase it fell in (from the console), the marker it was timed from, the delay. */
export interface Cut {
  phase: 'apply' | 'boot-check' | 'other';
  anchor: string;
  delayMs: number;
}

const SYNC = /^apply progress .*"step":"sync"/;
const WRITE = /^apply progress \{"step":"write","bytesDone":(\d+),"bytesTotal":(\d+)/;

/** A predicate for ferry's first `write` progress line at or past the fraction `f` of the image. */
function writtenAtLeast(f: number): (e: string) => boolean {
  return (e) => {
    const m = WRITE.exec(e);
    return m !== null && Number(m[1]) >= f * Number(m[2]);
  };
}

/** Learn the phase durations from a run's timed events (the last complete phases count). */
export function learn(events: Array<{ event: string; at: number }>, took: Took): void {
  let applyAt: number | undefined, syncAt: number | undefined, checkAt: number | undefined, onB = false, wrote = false;
  for (const { event: e, at } of events) {
    if (e.startsWith('booted slot')) onB = e.startsWith('booted slot B');
    if (e === 'apply start') (applyAt = at), (syncAt = undefined), (wrote = false);
    if (!wrote && applyAt !== undefined && WRITE.test(e)) (wrote = true), (took.verify = at - applyAt);
    if (SYNC.test(e)) syncAt = at;
    if (e === 'apply exit 0' && applyAt !== undefined) {
      took.apply = at - applyAt;
      if (syncAt !== undefined) took.tail = at - syncAt;
    }
    if (e === 'boot-check start') checkAt = at;
    if (onB && e.startsWith('boot-check exit') && checkAt !== undefined) took.bootCheck = at - checkAt;
  }
}

/** What the kiosk was doing when the plug was pulled: inside an apply, inside boot-check on B, or else. */
export function phaseAt(events: string[]): Cut['phase'] {
  let onB = false;
  let phase: Cut['phase'] = 'other';
  for (const e of events) {
    if (e.startsWith('booted slot')) (onB = e.startsWith('booted slot B')), (phase = 'other');
    else if (e === 'apply start') phase = 'apply';
    else if (e === 'boot-check start') phase = onB ? 'boot-check' : 'other';
    else if (/^(apply|boot-check) exit /.test(e)) phase = 'other';
  }
  return phase;
}

/**
 * Watch one boot sequence and pull the plug at the first due moment: during an apply on A
 * (timed from ferry's progress lines: a third from its `sync` line, so the bootloader switch,
 * the state write and the receipts get their share; a sixth from `apply start`, before the
 * first byte; half from a seeded point of the image's write), or during boot-check of a
 * pending B (from `boot-check start`, weighted to its end, where the commit is written).
 * Returns undefined when the run went to power off uncut.
 */
export async function cutWhenDue(vm: Vm, need: { apply: number; bootCheck: number }, rnd: () => number, took: Took, pendingAtStart: boolean, timeoutMs: number): Promise<Cut | undefined> {
  let from = 0;
  let onB = false;
  let pendingB = pendingAtStart;
  for (;;) {
    const ev = await vm.watch(/^(booted slot [AB] |apply start$|apply exit |boot-check start$|boot-check exit )/, timeoutMs, from);
    if (ev === 'exit') return undefined;
    if (ev === 'timeout') throw new Error(`${vm.c.name}: the kiosk made no progress; ${vm.tail()}`);
    from = ev.index + 1;
    const e = ev.line;
    if (e.startsWith('booted slot')) onB = e.startsWith('booted slot B');
    if (e === 'apply exit 0') pendingB = true;
    if (onB && e.startsWith('boot-check exit')) pendingB = false; // committed, or marked bad
    let anchor: { line: string; index: number } | 'timeout' | 'exit' = ev;
    let delay: number;
    let end: RegExp;
    if (e === 'apply start' && !onB && need.apply > 0) {
      // timed from ferry's own progress, so that a busier or idler machine still cuts inside the
      // apply: a third at its end (from the `sync` line: state, bootloader switch, receipts), a
      // sixth before the first byte is written, half while the image streams into the slot
      end = /^apply exit /;
      const pick = rnd();
      const mark = pick < 1 / 3 ? SYNC : pick < 1 / 2 ? undefined : writtenAtLeast(rnd());
      if (mark) {
        anchor = await vm.watch((l) => (typeof mark === 'function' ? mark(l) : mark.test(l)) || end.test(l), timeoutMs, ev.index);
        if (anchor === 'exit') return undefined;
        if (anchor === 'timeout' || end.test(anchor.line)) continue; // the apply failed before that line: no cut
      }
      delay = pick < 1 / 3 ? rnd() * took.tail * 1.1 : pick < 1 / 2 ? rnd() * took.verify : rnd() * 2_000;
    } else if (e === 'boot-check start' && onB && pendingB && need.bootCheck > 0) {
      end = /^boot-check exit /;
      delay = took.bootCheck * (0.3 + 0.75 * rnd());
    } else continue;
    const r = await vm.watch(end, delay, anchor.index);
    if (r === 'exit') return undefined;
    if (r !== 'timeout') continue; // the phase ended before the moment: watch for the next one
    await vm.kill();
    return { phase: phaseAt(vm.events()), anchor: anchor.line.slice(0, 60), delayMs: delay };
  }
}

/** The invariants after a cut, read from the images (the journals replay cleanly first). */
export function checkAfterCut(c: Case, build: KioskBuild, where: string): void {
  const st = readState(c); // parses: never torn
  expect(['good', 'bad', 'pending', 'empty'], where).toContain(st.slots.B.status);
  expect(st.slots.A.status, `${where}: slot A must stay good`).toBe('good');
  const env = grubenv(c);
  expect(env.A_OK, `${where}: slot A must stay bootable`).toBe('1');
  if (env.B_OK === '1') expect(['pending', 'good'], `${where}: B may boot only once written and recorded`).toContain(st.slots.B.status);
  const into = fs.mkdtempSync(path.join(path.dirname(c.disk), 'stick-'));
  try {
    extractStick(c, into);
    const trust = path.join(build.dir, 'pki', 'trust');
    fs.mkdirSync(path.join(trust, 'roots'), { recursive: true });
    fs.copyFileSync(path.join(build.dir, 'pki', 'root', 'cert.pem'), path.join(trust, 'roots', 'root.pem'));
    execFileSync(path.join(REPO, 'dist', 'device', 'ferry'), ['verify', '--media', into, '--trust', trust], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${where}: the stick layout does not verify after the cut: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  } finally {
    fs.rmSync(into, { recursive: true, force: true });
  }
}

/**
 * After an uncut run on a disk that was cut before: the update is committed, the apply's
 * success receipt reached the stick (even when the apply that switched was cut before its
 * last state write), nothing waits for delivery, and no temp file of ferry's is left.
 */
export function checkCompleted(c: Case, where: string, events: string[]): void {
  expect(events.at(-1), `${where}: the run ends in power off\n${events.join('\n')}`).toBe('power off');
  const st = readState(c);
  expect(st.slots.B, `${where}: the re-run commits B\n${events.join('\n')}`).toMatchObject({ status: 'good', version: '1.1.0' });
  expect(st.slots.A.status, where).toBe('good');
  expect(st.pendingReceipts, `${where}: receipts still waiting`).toEqual([]);
  expect(grubenv(c), where).toMatchObject({ ORDER: 'B A', A_OK: '1', B_OK: '1', B_TRY: '0' });
  const receipts = stickReceipts(c);
  expect(receipts.some((r) => r.action === 'apply' && r.result === 'success' && r.version === '1.1.0'), `${where}: the install's receipt is on the stick: ${receipts.map((r) => `${r.action}:${r.result}`).join(' ')}`).toBe(true);
  const stale = [...dataLs(c, '/ferry/state'), ...bootLs(c)].filter((n) => n.startsWith('.ferry-tmp-'));
  expect(stale, `${where}: ferry's temp files left behind`).toEqual([]);
}

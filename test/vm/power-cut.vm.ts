/**
 * Scenario 4, power cuts: QEMU is SIGKILLed (no guest shutdown: the guest's page cache is
 * lost, as in a real power cut) at seeded random moments during the in-guest apply and
 * during boot-check/commit of the new slot. The moments are measured from what the guest
 * says on its serial console (`apply start`, ferry's progress line for the final sync,
 * `boot-check start` on the new slot), not from the VM's start, so they land in the phase
 * whatever the machine's load. After each cut, on the disk image: the journals replay
 * cleanly, state.json parses, slot A is still bootable and good, B may boot only once
 * recorded; on the stick: the layout still verifies. The next boot must come up in a good
 * slot (it is the next cut's boot); each disk's history ends with an uncut run that
 * completes (B committed, the apply's receipt on the stick, no stale temp files).
 * A failure prints the seed and the moment; replay with `npm run test:vm -- --seed N`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBuild } from './build.js';
import { type Case, dataLs, dropCase, type KioskBuild, newCase, readState, setScenario, Vm, stopAll } from './kiosk.js';
import { checkAfterCut, checkCompleted, type Cut, cutWhenDue, learn, prng, type Took } from './power-cut.js';

const LONG = process.env.FERRY_VM_LONG === '1';
const WANT = { apply: LONG ? 30 : 8, bootCheck: LONG ? 10 : 4 };
const SEED = Number(process.env.FERRY_VM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUN = 15 * 60_000;
/** The whole sequence's budget: the default run takes 9-30 min, --long 40 cuts ~1-3 h depending on the host's load. */
const BUDGET = (LONG ? 6 * 60 : 60) * 60_000;

let build: KioskBuild;
let work: string;
beforeAll(() => {
  build = readBuild(inject('kioskDir'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-helper-cut-'));
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
});

describe(`power cuts (seed ${SEED}; ${WANT.apply} during apply, ${WANT.bootCheck} during boot-check)`, () => {
  it('every cut leaves a bootable good slot, readable state, a valid stick; each re-run completes', async () => {
    const rnd = prng(SEED);
    const need = { ...WANT };
    const took: Took = { apply: 40_000, tail: 4_000, bootCheck: 6_000, verify: 8_000 };
    learn(JSON.parse(fs.readFileSync(path.join(build.dir, 'applied.events.json'), 'utf8')), took);
    const log: string[] = [];
    const cuts: Cut[] = [];
    let disks = 0;
    let c: Case | undefined;
    for (let round = 0; ; round++) {
      expect(round, `seed ${SEED}: too many rounds; cuts so far ${JSON.stringify(cuts.map((k) => k.phase))}\n${log.join('\n')}`).toBeLessThan(3 * (WANT.apply + WANT.bootCheck) + 6);
      if (!c) {
        // apply cuts start from a fresh device; boot-check cuts from the applied snapshot (B pending)
        c = newCase(build, work, `cut-${disks++}`, { from: need.apply > 0 ? 'fresh' : 'applied' });
        log.push(`disk ${c.name} (${need.apply > 0 ? 'fresh' : 'applied'})`);
      }
      // a fresh device has no state yet (its first boot-check writes it)
      const pendingBefore = dataLs(c, '/ferry/state').includes('state.json') && readState(c).slots.B.status === 'pending';
      setScenario(c, ['apply', 'apply', 'apply', 'apply']);
      const vm = new Vm(c);
      const cut = await oneBoot(vm, c, round, cuts.length > 0 && log.at(-1)?.startsWith('cut') === true, need, rnd, took, pendingBefore).catch((e: unknown) => {
        // every failure says how to replay it, the cuts so far and what the guest printed last
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(`seed ${SEED} round ${round} ${c!.name} (replay: npm run test:vm -- --seed ${SEED}): ${msg}${msg.includes('last console lines:') ? '' : `\n${vm.tail()}`}\nso far:\n${log.join('\n')}`);
      });
      if (cut) {
        const where = `seed ${SEED} round ${round} ${c.name}: cut ${(cut.delayMs / 1000).toFixed(1)} s after "${cut.anchor}" (${cut.phase})`;
        log.push(`cut ${where}; events: ${vm.events().filter((e) => !e.includes(' progress ') && !e.includes(' json ')).join(' | ')}`);
        cuts.push(cut);
        // progress on the console as it happens: a long run that is stopped still shows how far it got
        console.log(`power cut ${cuts.length} of ${WANT.apply + WANT.bootCheck}: ${where}`);
        if (cut.phase === 'apply') need.apply--;
        if (cut.phase === 'boot-check') need.bootCheck--;
        checkAfterCut(c, build, where);
        continue;
      }
      // an uncut run: it went on to power off by itself; its disk's history is complete
      const where = `seed ${SEED} round ${round} ${c.name}: uncut run`;
      log.push(`${where}: ${vm.events().filter((e) => !e.includes(' progress ') && !e.includes(' json ')).join(' | ')}`);
      try {
        checkCompleted(c, where, vm.events());
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n(replay: npm run test:vm -- --seed ${SEED})\n${vm.tail()}\nso far:\n${log.join('\n')}`);
      }
      await dropCase(c);
      c = undefined;
      if (need.apply <= 0 && need.bootCheck <= 0) break;
    }
    const count = (p: string) => cuts.filter((k) => k.phase === p).length;
    console.log(`power cuts (seed ${SEED}): ${count('apply')} during apply, ${count('boot-check')} during boot-check, on ${disks} disks\n${log.join('\n')}`);
    expect(count('apply')).toBeGreaterThanOrEqual(WANT.apply);
    expect(count('boot-check')).toBeGreaterThanOrEqual(WANT.bootCheck);
  }, BUDGET);
});

/**
 * One boot of a cut sequence: the boot after a cut must come up in a good slot (A, or B once
 * written and recorded); then the plug is pulled when due. Undefined: the run powered off uncut.
 */
async function oneBoot(vm: Vm, c: Case, round: number, afterCut: boolean, need: { apply: number; bootCheck: number }, rnd: () => number, took: Took, pendingBefore: boolean): Promise<Cut | undefined> {
  const first = await vm.waitFor(/^booted slot [AB] /, RUN);
  if (afterCut) expect(first.line, `${c.name} round ${round}: the boot after a cut`).toMatch(/^booted slot (A version 1\.0\.0|B version 1\.1\.0)$/);
  const cut = await cutWhenDue(vm, need, rnd, took, pendingBefore, RUN);
  learn(vm.eventTimes(), took);
  return cut;
}

/**
 * Red team: target names are signed strings that key the anti-rollback floors. A valid
 * name that is also an Object.prototype member ("constructor", "toString", "valueOf",
 * "hasOwnProperty") must get a floor like any other, or a replayed old stick installs.
 */
import { describe, expect, it } from 'vitest';
import { planInstall } from '../../src/device/plan.js';
import { markGoodRisk } from '../../src/device/maintenance.js';
import { boundTarget, commitRelease, emptyState, raiseFloor } from '../../src/device/state.js';
import { planInputs as inputs, planManifest as manifest, verified as ok } from '../helpers/plan.js';

const PROTO_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

describe('red team: anti-rollback floors for target names that are Object.prototype members', () => {
  for (const name of PROTO_NAMES) {
    it(`keeps a floor for the target "${name}" and refuses an older counter`, () => {
      const state = emptyState();
      raiseFloor(state, name, 20);
      expect(Object.hasOwn(state.counterFloor, name)).toBe(true);
      expect(state.counterFloor[name]).toBe(20);
      // a committed release of that name: the floor rises, the device follows it
      commitRelease(state, { status: 'good', target: name, version: '3.0.0', counter: 30 });
      expect(state.counterFloor[name]).toBe(30);
      expect(boundTarget(state)).toBe(name);

      // running slot A holds no counter (provisioned by hand): only the floor stands in the way
      const inp = inputs([ok(manifest('1.0.0', 10, { name }))]);
      inp.state = state;
      inp.state.slots.A = { status: 'good' };
      const m = inp.candidates[0]!.manifest!;
      m.id = `${name}-1.0.0`;
      const r = planInstall(inp);
      expect(r).toMatchObject({ kind: 'nothing', code: 'DOWNGRADE_REFUSED' });
    });
  }

  it('carries the floor of a replaced name called "constructor"', () => {
    const state = emptyState();
    state.target = 'constructor';
    raiseFloor(state, 'constructor', 50);
    const inp = inputs([ok(manifest('2.0.0', 40, { replaces: ['constructor'] }))]);
    inp.state = state;
    inp.state.slots.A = { status: 'good' };
    expect(planInstall(inp)).toMatchObject({ kind: 'nothing', code: 'DOWNGRADE_REFUSED' });
  });

  it('mark-good says the floor rises for a first commit of "valueOf"', () => {
    const state = emptyState();
    state.slots.B = { status: 'pending', target: 'valueOf', version: '1.0.0', counter: 10 };
    expect(markGoodRisk(state, 'B').floor).toMatch(/older than 1.0.0/);
  });
});

describe('red team: the verifier policy check for a target called "constructor"', () => {
  it('refuses a counter below the floor and honours requires.minCounter', async () => {
    const { checkUpdatePolicy } = await import('../../src/trust/verify.js');
    const m = manifest('1.0.0', 10, { name: 'constructor' });
    const t = Date.parse('2026-11-20T00:00:00Z');
    expect(() => checkUpdatePolicy(m, { counterFloor: { constructor: 20 } }, t)).toThrow(expect.objectContaining({ code: 'DOWNGRADE_REFUSED' }));
    expect(() => checkUpdatePolicy(m, { counterFloor: {} }, t)).not.toThrow();
    const needs = manifest('2.0.0', 20, { name: 'constructor', requires: { minCounter: 15 } });
    expect(() => checkUpdatePolicy(needs, { installedCounter: { constructor: 10 } }, t)).toThrow(expect.objectContaining({ code: 'REQUIREMENT_NOT_MET' }));
  });
});

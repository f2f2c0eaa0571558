/**
 * The hostile-stick harness: one case = one stick made by code, applied to a fresh jail
 * device (test/helpers/hostile-device.ts). For EVERY case it asserts the exact error code
 * (and the exit code through the CLI), the running slot byte-identical (content and
 * metadata), nothing written around the slots, the trust folder unchanged, the state
 * readable with the failure recorded, no lock left behind, and that the next good stick
 * then installs on the same device.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadState } from '../../src/device/state.js';
import type { ErrorCode } from '../../src/errors.js';
import { revokeCertificate } from '../../src/trust/pki.js';
import { applyCli, applyLib, type CliRun, ESCAPE_MARKERS, exitCodeOf, findControl, type Jail, makeJail, type Outcome, removeJail, snapshotJail } from '../helpers/hostile-device.js';
import { type HostileKit, makeHostileKit } from '../helpers/hostile-stick.js';
import { tarArchive } from '../helpers/layers.js';
import { ensureBuilt } from '../e2e/device-run.js';

/** Who attacks: (a) no key, a signed stick altered afterwards; (b) a legitimate signer with a hostile image. */
export type Attacker = 'no-key' | 'signer';

/** A stick a case made: its media root, and the FIFOs on it (for the hang watchdog). */
export interface MadeStick {
  media: string;
  fifos?: string[];
}

/** What a case's functions get. */
export interface CaseCtx {
  hk: HostileKit;
  jail: Jail;
  /** A fresh copy of the file's legitimately signed base stick. */
  base(): Promise<string>;
  /** The good stick (installs on every jail). */
  good: string;
}

/** One hostile stick. */
export interface HostileCase {
  name: string;
  attacker: Attacker;
  /** What it tries, in a few words (the README table). */
  tries: string;
  /** The exact outcome; a list only where the issue allows either (typed error or success). */
  expect: ErrorCode | 'ok' | Array<ErrorCode | 'ok'>;
  /** Run through the built CLI (`ferry device apply`), checking the exit code and the human output. */
  cli?: CliRun | true;
  /** Device config additions (policy etc.). */
  deviceExtra?: Record<string, unknown>;
  /** Prepare the device first (mount a small slot, show it an earlier stick, ...). */
  prepare?(ctx: CaseCtx): Promise<void>;
  stick(ctx: CaseCtx): Promise<string | MadeStick>;
  /** Extra assertions after the hostile apply. */
  check?(ctx: CaseCtx, o: Outcome): Promise<void>;
}

/** What a corpus file shares between its cases. */
export interface CorpusEnv {
  hk: HostileKit;
  good: string;
  base: string;
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** Everything that must hold after any apply, hostile or good. */
async function expectIntact(ctx: CaseCtx, before: ReturnType<typeof snapshotJail>, label: string): Promise<void> {
  const { jail } = ctx;
  const after = snapshotJail(jail);
  expect(after.running, `${label}: running slot ${jail.running} changed`).toEqual(before.running);
  expect(after.trust, `${label}: trust folder changed`).toEqual(before.trust);
  expect(after.around, `${label}: something was written around the slots`).toEqual(before.around);
  expect(await exists(path.join(jail.dev.stateDir, 'lock')), `${label}: lock file left behind`).toBe(false);
  expect(await exists(path.join(jail.dev.stateDir, 'lock.break')), `${label}: lock.break left behind`).toBe(false);
  const boot = JSON.parse(await fsp.readFile(jail.dev.bootFile, 'utf8')) as { order: string[]; slots: Record<string, { good: boolean }> };
  expect(boot.slots[jail.running]?.good, `${label}: running slot no longer bootable`).toBe(true);
}

/** Run one case end to end. */
export async function runCase(env: CorpusEnv, c: HostileCase): Promise<void> {
  const jail = await makeJail(env.hk.kit, c.deviceExtra);
  const ctx: CaseCtx = { hk: env.hk, jail, good: env.good, base: () => env.hk.copy(env.base) };
  try {
    await c.prepare?.(ctx);
    const made = await c.stick(ctx);
    const stick: MadeStick = typeof made === 'string' ? { media: made } : made;
    const before = snapshotJail(jail);
    const started = new Date(Date.now() - 1000).toISOString();
    const o = c.cli ? applyCli(jail, stick.media, c.cli === true ? {} : c.cli) : await applyLib(jail, stick.media, stick.fifos);
    const allowed = Array.isArray(c.expect) ? c.expect : [c.expect];
    expect(allowed, `outcome ${o.code}: ${o.message}`).toContain(o.code);
    if (c.cli) {
      expect(o.exit, `exit code of ${o.code}`).toBe(exitCodeOf(o.code as ErrorCode | 'ok'));
      const out = `${o.stdout}${o.stderr}`;
      if (c.cli === true || c.cli.ttyAnswer === undefined) expect(findControl(out), 'terminal control characters in the CLI output').toBeUndefined();
      else for (const m of ESCAPE_MARKERS) expect(out.includes(m), `the stick's ${JSON.stringify(m)} reached the terminal`).toBe(false);
    }
    await expectIntact(ctx, before, 'hostile stick');
    const state = await loadState(jail.dev.stateDir);
    expect(state.lastResult, 'no lastResult recorded').toBeDefined();
    expect(state.lastResult!.at >= started, 'lastResult is older than this apply').toBe(true);
    expect(state.lastResult!.code ?? 'ok', 'lastResult code').toBe(o.code);
    await c.check?.(ctx, o);
    const g = await applyLib(jail, env.good);
    expect(g.code, `the good stick after it: ${g.message}`).toBe('ok');
    expect(await exists(path.join(jail.dev.stateDir, 'lock')), 'lock file left behind by the good stick').toBe(false);
  } finally {
    await removeJail(jail);
  }
}

/**
 * Register a corpus file: one kit, one good stick and one base stick (a signed sample
 * image, the "no key" attacker's starting point) shared by its cases, one test per case.
 */
export function defineCorpus(title: string, cases: HostileCase[]): void {
  let env: CorpusEnv | undefined;
  beforeAll(async () => {
    if (cases.some((c) => c.cli)) ensureBuilt();
    const hk = await makeHostileKit();
    const good = await hk.newMedia();
    const goodTar = tarArchive([
      { name: 'etc/', type: '5' },
      { name: 'etc/os-release', data: 'ID=kiosk\nVERSION_ID=10.0.0\n' },
      { name: 'usr/', type: '5' },
      { name: 'usr/bin/', type: '5' },
      { name: 'usr/bin/app', data: '#!/bin/sh\necho good\n', mode: 0o755 },
    ]);
    await hk.publish(good, { layers: [{ tar: goodTar }], version: '10.0.0', counter: 10_000 });
    const base = await hk.newMedia();
    await hk.publish(base, { image: hk.kit.samples.v1, version: '1.0.0', counter: 100 });
    await revokeCertificate({ rootDir: hk.kit.rootDir, mediaRoot: base }); // a CRL revoking nothing, so FERRY/trust/crl.pem exists
    env = { hk, good, base };
  });
  afterAll(async () => {
    await env?.hk.cleanup();
  });
  describe(title, () => {
    for (const c of cases) it(`${c.name} [${c.attacker}]: ${c.tries} -> ${Array.isArray(c.expect) ? c.expect.join('|') : c.expect}`, () => runCase(env!, c));
  });
}

/** The cases of `all` named in `names`, in that order (a name that matches none is an error). */
export function only(all: HostileCase[], names: string[]): HostileCase[] {
  return names.map((n) => {
    const c = all.find((x) => x.name === n);
    if (!c) throw new Error(`no hostile case named ${n}`);
    return c;
  });
}

/**
 * TUI responsiveness bench (not a test: nothing here is asserted). Builds a signed
 * stick with one big incompressible image, then
 *   1. times `ferry device apply --yes` (the CLI) on a fresh device, and
 *   2. drives the built ferry-tui in tmux on another fresh device through the same
 *      apply, sending a key every second while it runs (l = log view, q = back) and
 *      timing how long until the screen shows it (tmux capture-pane polled every ~5 ms),
 *      and timing the apply from the "install" key to the Done screen.
 * The idle latency of the same keys on the Done screen is reported as the baseline
 * (tmux + capture overhead). Usage (after `npx tsc -p .`):
 *   node dist/bench/tui-latency.js [--size 256] [--runs 2] [--key-runs 3] [--out FILE]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportImage } from '../src/media/export.js';
import { publishUpdate } from '../src/media/publish.js';
import { initRoot, issueCertificate } from '../src/trust/pki.js';
import { ferryDist, repoRoot, snapshotDist } from './ferry.js';

const REPO = repoRoot();
const NODE = path.join(REPO, 'node_modules/.bin/node');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A rootfs of `mib` MiB of random (incompressible) files, written in 4 MiB chunks. */
async function makeRootfs(dir: string, mib: number): Promise<void> {
  await fsp.mkdir(path.join(dir, 'usr/share/payload'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'usr/lib-os-release'), 'ID=bench\n');
  for (let i = 0; i * 16 < mib; i++) {
    const fh = await fsp.open(path.join(dir, `usr/share/payload/blob-${i}.bin`), 'w');
    for (let j = 0; j < Math.min(16, mib - i * 16); j += 4) await fh.write(randomBytes(Math.min(4, mib - i * 16 - j) * 1024 * 1024));
    await fh.close();
  }
}

/** A fresh device with dir slots and the file bootloader, trusting `rootCert`. */
async function makeDevice(dir: string, rootCert: string, deviceId: string): Promise<{ config: string; deviceId: string }> {
  await fsp.mkdir(path.join(dir, 'trust/roots'), { recursive: true });
  await fsp.copyFile(rootCert, path.join(dir, 'trust/roots/root.pem'));
  const boot = path.join(dir, 'boot.json');
  await fsp.writeFile(boot, JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }));
  const config = path.join(dir, 'device.json');
  await fsp.writeFile(config, JSON.stringify({
    compatible: 'bench,kiosk', deviceId, stateDir: path.join(dir, 'state'), trustDir: path.join(dir, 'trust'), bootedSlot: 'A', rebootCommand: 'true',
    slots: { A: { type: 'dir', path: path.join(dir, 'slots/a') }, B: { type: 'dir', path: path.join(dir, 'slots/b') } },
    bootloader: { type: 'file', path: boot, attempts: 3 },
  }));
  return { config, deviceId };
}

/** The engine's own duration of the apply, from the receipt it wrote to the stick. */
async function receiptMs(stick: string, deviceId: string): Promise<number> {
  const dir = path.join(stick, 'FERRY/receipts', deviceId);
  const names = (await fsp.readdir(dir)).filter((n) => n.endsWith('-apply.json'));
  const r = JSON.parse(await fsp.readFile(path.join(dir, names.sort().at(-1)!), 'utf8')) as { durationMs: number; result: string };
  if (r.result !== 'success') throw new Error(`apply on ${deviceId}: ${r.result}`);
  return r.durationMs;
}

class Tmux {
  /** performance.now() of the first capture that showed the Done screen. */
  doneAt: number | undefined;
  constructor(readonly socket: string) {}
  run(...a: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...a], { encoding: 'utf8' });
  }
  screen(): string {
    const sc = this.run('capture-pane', '-p', '-t', 'b');
    if (this.doneAt === undefined && /Installed .* into slot B/.test(sc)) this.doneAt = performance.now();
    return sc;
  }
  async waitFor(re: RegExp, timeoutMs = 600_000, pollMs = 5): Promise<number> {
    const t0 = performance.now();
    while (!re.test(this.screen())) {
      if (performance.now() - t0 > timeoutMs || /\[exit \d+\]/.test(this.screen())) throw new Error(`timeout waiting for ${re}:\n${this.screen()}`);
      await sleep(pollMs);
    }
    return performance.now() - t0;
  }
  /** Send a key and return ms until `re` is on screen. */
  async keyLatency(key: string, re: RegExp): Promise<number> {
    const t0 = performance.now();
    this.run('send-keys', '-t', 'b', key);
    await this.waitFor(re, 30_000, 2);
    return performance.now() - t0;
  }
}

function stats(xs: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, median: +q(0.5).toFixed(1), p95: +q(0.95).toFixed(1), max: +(s[s.length - 1] ?? NaN).toFixed(1) };
}

let sessions = 0;

/** One run through ferry-tui; returns apply time and key latencies during and after it. */
async function tuiRun(config: string, stick: string, id: string, withKeys: boolean): Promise<{ applyMs: number; during: number[]; idle: number[] }> {
  const t = new Tmux(`ferry-bench-${process.pid}-${++sessions}`);
  const cmd = `LANG=C.UTF-8 ${NODE} ${path.join(ferryDist(), 'tui/main.js')} --config ${config} --media ${stick}; echo "[exit $?]"; sleep 600`;
  t.run('new-session', '-d', '-s', 'b', '-x', '80', '-y', '24', cmd);
  try {
    await t.waitFor(new RegExp(`${id}.*ready`));
    t.run('send-keys', '-t', 'b', 'Enter');
    await t.waitFor(/verified\. Press Enter/);
    t.run('send-keys', '-t', 'b', 'Enter');
    await t.waitFor(/Install .* into slot B\?/);
    const start = performance.now();
    t.run('send-keys', '-t', 'b', 'y');
    const during: number[] = [];
    if (!withKeys) {
      // Quiet run (for the apply-time comparison): no keys, and a cheap 100 ms screen poll.
      while (t.doneAt === undefined) {
        await sleep(100);
        t.screen();
      }
      return { applyMs: t.doneAt - start, during: [], idle: [] };
    }
    // Keys once a second; in between, keep polling so the Done screen is seen within ~25 ms.
    while (t.doneAt === undefined) {
      const next = performance.now() + 1000;
      while (t.doneAt === undefined && performance.now() < next) {
        t.screen();
        await sleep(25); // coarse on purpose: spawning tmux 200x/s would steal the CPU being measured
      }
      if (t.doneAt !== undefined) break;
      const l = await t.keyLatency('l', /ferry \| (Log|Done)/);
      if (t.doneAt === undefined) during.push(l);
      const q = await t.keyLatency('q', /ferry \| (Installing|Done)/);
      if (t.doneAt === undefined) during.push(q);
    }
    const applyMs = t.doneAt - start;
    const idle: number[] = [];
    for (let i = 0; i < 10; i++) {
      idle.push(await t.keyLatency('l', /ferry \| Log/));
      idle.push(await t.keyLatency('q', /ferry \| Done/));
    }
    return { applyMs, during, idle };
  } finally {
    try {
      t.run('kill-server');
    } catch {
      // already gone
    }
  }
}

async function main(): Promise<void> {
  const mib = Number(arg('size', '256'));
  const runs = Number(arg('runs', '2'));
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-tui-bench-'));
  try {
    // ferry runs from a private copy of dist/ (ferryDist()), so a tsc run elsewhere cannot change it mid-bench
    await snapshotDist(work);
    await makeRootfs(path.join(work, 'rootfs'), mib);
    await initRoot({ out: path.join(work, 'pki/root'), name: 'bench root', days: 3650 });
    await issueCertificate({ issuerDir: path.join(work, 'pki/root'), profile: 'signer', name: 'bench signer', days: 30, out: path.join(work, 'pki/signer') });
    const stick = path.join(work, 'stick');
    const ex = await exportImage({ image: `rootfs:${path.join(work, 'rootfs')}`, target: 'kiosk', version: '2.0.0', mediaRoot: stick, compress: 'none' });
    await publishUpdate({ mediaRoot: stick, target: 'kiosk', version: '2.0.0', manifest: ex.manifest, platform: ex.platform, payloadBytes: ex.payloadBytes, chunkIndex: ex.chunkIndex, signerDir: path.join(work, 'pki/signer'), compatible: ['bench,kiosk'] });
    const rows: Array<Record<string, unknown>> = [];
    const during: number[] = [];
    const idle: number[] = [];
    const cert = path.join(work, 'pki/root/cert.pem');
    const cliApply = async (r: number) => {
      const cli = await makeDevice(path.join(work, `dev-cli-${r}`), cert, `bench-cli-${r}`);
      execFileSync('sync');
      const t0 = performance.now();
      const res = spawnSync(NODE, [path.join(ferryDist(), 'src/cli/main.js'), 'device', 'apply', '--config', cli.config, '--media', stick, '--yes'], { encoding: 'utf8' });
      const wall = performance.now() - t0;
      if (res.status !== 0) throw new Error(`ferry device apply failed: ${res.stderr}`);
      return { wall, engine: await receiptMs(stick, cli.deviceId) };
    };
    const tuiApply = async (r: number) => {
      const tui = await makeDevice(path.join(work, `dev-tui-${r}`), cert, `bench-tui-${r}`);
      execFileSync('sync');
      const u = await tuiRun(tui.config, stick, 'kiosk-2.0.0', false);
      return { wall: u.applyMs, engine: await receiptMs(stick, tui.deviceId) };
    };
    for (let r = 0; r < runs; r++) {
      // Alternate the order so neither side always meets the other's dirty pages.
      const a = r % 2 === 0 ? await cliApply(r) : await tuiApply(r);
      const b = r % 2 === 0 ? await tuiApply(r) : await cliApply(r);
      const [cli, tui] = r % 2 === 0 ? [a, b] : [b, a];
      rows.push({
        run: r + 1,
        order: r % 2 === 0 ? 'cli, tui' : 'tui, cli',
        cliProcessWallMs: Math.round(cli.wall),
        tuiKeyToDoneWallMs: Math.round(tui.wall),
        cliEngineMs: cli.engine,
        tuiEngineMs: tui.engine,
        tuiVsCliEngine: `${(((tui.engine - cli.engine) / cli.engine) * 100).toFixed(1)}%`,
      });
    }
    // Key latency: separate runs, keys every second while the apply runs.
    for (let r = 0; r < Number(arg('key-runs', '3')); r++) {
      const lat = await makeDevice(path.join(work, `dev-keys-${r}`), cert, `bench-keys-${r}`);
      const k = await tuiRun(lat.config, stick, 'kiosk-2.0.0', true);
      during.push(...k.during);
      idle.push(...k.idle);
    }
    const engine = (k: string) => rows.map((x) => x[k] as number).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
    const summary = { medianCliEngineMs: engine('cliEngineMs'), medianTuiEngineMs: engine('tuiEngineMs'), tuiVsCli: `${(((engine('tuiEngineMs') - engine('cliEngineMs')) / engine('cliEngineMs')) * 100).toFixed(1)}%` };
    const out = { sizeMiB: mib, payloadBytes: ex.payloadBytes, machine: { cpus: os.cpus().length, node: process.version }, runs: rows, summary, keyLatencyDuringApplyMs: stats(during), keyLatencyIdleMs: stats(idle) };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    const file = arg('out', '');
    if (file) await fsp.writeFile(file, JSON.stringify(out, null, 2) + '\n');
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

await main();

/**
 * Issue 11, finding 14, through the built CLI: export and verify report progress as bytes
 * (never counts in byte fields), the last event reaches the total, JSON events carry the
 * rate and ETA, and on a terminal the bar shows MB/s and ETA and the summary gets a line
 * of its own. The terminal is a real pty (script(1)).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleBytes } from '../helpers/samples.js';
import { tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let dir: string;
const d = (p: string) => path.join(dir, p);
/** A 24 MiB image of incompressible bytes, as an OCI layout: several 4 MiB progress steps. */
let image: string;
let layerBytes: number;

function ferry(...args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Event {
  step: string;
  bytesDone: number;
  bytesTotal: number;
  item?: number;
  items?: number;
  bytesPerSecond?: number;
  etaSeconds?: number | null;
}

const events = (stderr: string): Event[] => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);

/** The checks every byte progress stream must pass. */
function checkStream(ev: Event[], step: string, total: number): void {
  const mine = ev.filter((e) => e.step === step);
  expect(mine.length, JSON.stringify(ev)).toBeGreaterThan(3);
  let last = -1;
  for (const e of mine) {
    expect(e.bytesTotal).toBe(total);
    expect(e.bytesDone).toBeGreaterThanOrEqual(last);
    expect(e.bytesDone).toBeLessThanOrEqual(total);
    expect(typeof e.bytesPerSecond).toBe('number');
    expect(e.etaSeconds === null || typeof e.etaSeconds === 'number').toBe(true);
    last = e.bytesDone;
  }
  expect(mine[mine.length - 1]!.bytesDone).toBe(total);
}

beforeAll(async () => {
  dir = await tempDir('ferry-hq-progress-');
  await fsp.mkdir(d('tree/opt'), { recursive: true });
  await fsp.writeFile(d('tree/opt/blob.bin'), sampleBytes('hq-progress', 24 * 1024 * 1024));
  await fsp.mkdir(d('staging'));
  expect(ferry('export', '--image', `rootfs:${d('tree')}`, '--target', 'big', '--version', '1.0.0', '--media', d('staging'), '--compress', 'gzip').code).toBe(0);
  image = `oci:${d('staging/FERRY/oci')}:big-1.0.0`;
  const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', image]).toString());
  layerBytes = manifest.layers[0].size + manifest.config.size;
}, 120_000);
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('finding 14: progress of export and verify', () => {
  it('export --progress: byte events of one stream up to the total, with the layer as item/items', async () => {
    await fsp.mkdir(d('json'));
    const r = ferry('export', '--image', image, '--target', 'big', '--version', '1.0.0', '--media', d('json'), '--progress');
    expect(r.code, r.err).toBe(0);
    const ev = events(r.err);
    checkStream(ev, 'export', layerBytes);
    expect(ev.filter((e) => e.step === 'export').every((e) => e.items === 1 && (e.item === undefined || e.item === 1))).toBe(true);
    // no event anywhere puts a count where bytes belong
    expect(ev.filter((e) => e.bytesTotal > 0 && e.bytesTotal < 1000)).toEqual([]);
  });

  it('verify --progress ends at the total of the bytes it hashed', async () => {
    const r = ferry('verify', '--media', d('json'), '--progress');
    expect(r.code, r.err).toBe(0);
    const bytes = Number(/(\d+) bytes verified/.exec(r.out)![1]);
    const ev = events(r.err);
    checkStream(ev, 'verify', ev[ev.length - 1]!.bytesTotal);
    expect(ev[ev.length - 1]!.bytesTotal).toBeGreaterThanOrEqual(layerBytes);
    expect(ev[ev.length - 1]!.bytesTotal).toBeLessThanOrEqual(bytes);
  });

  it('on a terminal: a bar with MB/s and ETA, then a done line and the summary, each on a line of its own', async () => {
    await fsp.mkdir(d('tty'));
    const cmd = [NODE, CLI, 'export', '--image', image, '--target', 'big', '--version', '1.0.0', '--media', d('tty')].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm', COLUMNS: '100' } });
    expect(r.status, r.stdout).toBe(0);
    const screen = r.stdout.replaceAll('\r\n', '\n');
    expect(screen).toMatch(/export +\[[#.]{30}\] .*MiB .*MB\/s/);
    expect(screen).toMatch(/ETA \d+:\d\d/);
    const lines = screen.split('\n').map((l) => l.split('\r').pop()!);
    const done = lines.findIndex((l) => /^export +done: .* in \d+\.\d s, \d+\.\d MB\/s/.test(l));
    expect(done, screen).toBeGreaterThanOrEqual(0);
    const summary = lines.findIndex((l) => l.startsWith('exported big-1.0.0'));
    expect(summary, screen).toBeGreaterThan(done);
    // the summary's line holds nothing of the bar
    expect(screen.split('\n').find((l) => l.includes('exported big-1.0.0'))).not.toMatch(/\[[#.]+\]/);

    const v = spawnSync('script', ['-qec', [NODE, CLI, 'verify', '--media', d('tty')].map((a) => `'${a}'`).join(' '), '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
    expect(v.status, v.stdout).toBe(0);
    const vl = v.stdout.replaceAll('\r\n', '\n').split('\n');
    expect(vl.some((l) => /^verify +done: .* MB\/s/.test(l.split('\r').pop()!))).toBe(true);
    expect(vl.find((l) => l.includes('ok: 1 image(s)'))).toMatch(/^ok: /);
  });
});

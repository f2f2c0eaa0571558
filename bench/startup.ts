/**
 * Start-up bench of the device's single executable (not a test: nothing is asserted).
 * `ferry device boot-check` runs on every boot, so start-up time is boot time. Compares
 * dist/device/ferry (npm run build:device) with `node dist/src/cli/main.js` under the
 * project's Node 24 for `--version` and `device status` on a throwaway device (dir slots,
 * JSON boot file), interleaved, median of N runs, plus peak RSS and the size on disk.
 * Usage (after `npm run build:device`): node dist/bench/startup.js [--runs 20] [--out FILE]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './ferry.js';
import { measure, type Sample } from './proc.js';
import { median } from './report.js';

const REPO = repoRoot();
const NODE = path.join(REPO, 'node_modules/.bin/node');
const EXE = path.join(REPO, 'dist/device/ferry');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};

async function throwawayDevice(dir: string): Promise<string> {
  await fsp.mkdir(path.join(dir, 'trust/roots'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'boot.json'), JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }));
  const config = {
    compatible: 'acme,kiosk-v2',
    stateDir: path.join(dir, 'state'),
    trustDir: path.join(dir, 'trust'),
    bootedSlot: 'A',
    slots: { A: { type: 'dir', path: path.join(dir, 'a') }, B: { type: 'dir', path: path.join(dir, 'b') } },
    bootloader: { type: 'file', path: path.join(dir, 'boot.json'), attempts: 3 },
  };
  const file = path.join(dir, 'device.json');
  await fsp.writeFile(file, JSON.stringify(config));
  return file;
}

function duBytes(p: string): number {
  return Number(execFileSync('du', ['-sbL', p], { encoding: 'utf8' }).split('\t')[0]);
}

const ms = (s: Sample[]) => `${(median(s.map((x) => x.wallSec)) * 1000).toFixed(0)} ms`;
const cpu = (s: Sample[]) => (s.every((x) => x.cpuSec !== undefined) ? `${(median(s.map((x) => x.cpuSec!)) * 1000).toFixed(0)} ms` : 'n/a');
const rss = (s: Sample[]) => `${(median(s.map((x) => x.maxRssKiB)) / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  if (!existsSync(EXE)) throw new Error('dist/device/ferry is missing: run `npm run build:device` first');
  const runs = Number(arg('runs', '20'));
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-startup-'));
  try {
    const config = await throwawayDevice(dir);
    const commands = { '--version': ['--version'], 'device status': ['device', 'status', '--config', config] };
    const rows: string[] = [];
    for (const [name, args] of Object.entries(commands)) {
      const sea: Sample[] = [];
      const node: Sample[] = [];
      // interleaved, after one warm-up each, so both see the same page cache and machine load
      await measure([EXE, ...args]);
      await measure([NODE, path.join(REPO, 'dist/src/cli/main.js'), ...args]);
      for (let i = 0; i < runs; i++) {
        sea.push(await measure([EXE, ...args]));
        node.push(await measure([NODE, path.join(REPO, 'dist/src/cli/main.js'), ...args]));
      }
      const ratio = median(sea.map((x) => x.wallSec)) / median(node.map((x) => x.wallSec));
      rows.push(`| \`ferry ${name}\` | ${ms(sea)} | ${cpu(sea)} | ${rss(sea)} | ${ms(node)} | ${cpu(node)} | ${rss(node)} | ${ratio.toFixed(2)}x |`);
    }
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const nodeSize = statSync(path.join(REPO, 'node_modules/node/bin/node')).size;
    const depsSize = ['blessed', 'commander', 'node-forge', 'tar-stream'].reduce((a, p) => a + duBytes(path.join(REPO, 'node_modules', p)), 0);
    const md = [
      `# Start-up: single executable vs node + dist (median of ${runs}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)})`,
      '',
      '| command | dist/device/ferry wall | CPU | peak RSS | node dist/src/cli/main.js wall | CPU | peak RSS | wall ratio |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Size on disk: dist/device/ferry ${mib(statSync(EXE).size)} (one file); node + dist + runtime packages ${mib(nodeSize + duBytes(path.join(REPO, 'dist/src')) + duBytes(path.join(REPO, 'dist/tui')) + depsSize)} (node binary ${mib(nodeSize)}, not counting their own dependencies).`,
      '',
    ].join('\n');
    const out = arg('out', path.join(REPO, 'bench/results/startup.md'));
    await fsp.writeFile(out, md);
    process.stdout.write(md);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

await main();

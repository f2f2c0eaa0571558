/**
 * The bundled `ferry` (scripts/build-cli.ts, package.json's bin) behaves as tsc's build of the
 * same code: the same help for every lazily loaded command, the same results and exit codes for a
 * real export and verify (each from its own one-file bundle; built-ins reached through the bundle's lazy shims, tar run through
 * node:child_process), with a compile cache that cannot be written.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, CLI_ENTRY, OWN_BUNDLES } from '../../scripts/build-cli.js';
import { LAZY_COMMANDS } from '../../src/cli/lazy.js';
import { NODE_FLAGS } from '../../src/node-flags.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(REPO, 'node_modules/.bin/node');
// tsc's build: `npm test` runs tsc before vitest
const TSC_CLI = path.join(REPO, 'dist/src/cli/main.js');
let out: string;
let entry: string;
let tmp: string;

beforeAll(async () => {
  // inside dist/ so that the bundle finds node_modules (blessed stays outside it) as dist/cli/ does
  out = await fsp.mkdtemp(path.join(REPO, 'dist', 'cli-test-'));
  entry = await buildCli(path.join(REPO, 'dist'), out);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-build-cli-'));
}, 120_000);
afterAll(async () => {
  await fsp.rm(out, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

function run(cli: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const { NODE_COMPILE_CACHE: _, ...inherited } = process.env;
  return spawnSync(NODE, [...NODE_FLAGS, cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...inherited, XDG_CACHE_HOME: path.join(tmp, 'cache'), ...env } });
}

describe('the bundled ferry command', () => {
  it('starts with the #! line of the other commands', () => {
    expect(CLI_ENTRY.split('\n', 1)[0]).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  it('prints the same help as the tsc build for the program and every command', () => {
    for (const args of [['--help'], ['--version'], ...Object.keys(LAZY_COMMANDS).map((c) => [c, '--help'])]) {
      const a = run(entry, args);
      const b = run(TSC_CLI, args);
      expect(a.stdout, args.join(' ')).toBe(b.stdout);
      expect(a.status, args.join(' ')).toBe(b.status);
    }
  });

  it('exports and verifies as the tsc build does, and refuses a damaged blob with the same code', async () => {
    const root = path.join(tmp, 'root');
    await fsp.mkdir(path.join(root, 'etc'), { recursive: true });
    await fsp.writeFile(path.join(root, 'etc', 'hostname'), 'kiosk\n');
    const media = path.join(tmp, 'media');
    const exp = run(entry, ['export', '--image', `rootfs:${root}`, '--media', media, '--create', '--target', 'kiosk', '--version', '1.0.0']);
    expect(exp.stderr).not.toMatch(/error/i);
    expect(exp.status).toBe(0);
    const good = run(entry, ['verify', '--media', media, '--json']);
    expect(good.status).toBe(0);
    expect(good.stdout).toBe(run(TSC_CLI, ['verify', '--media', media, '--json']).stdout);
    const blobs = path.join(media, 'FERRY/oci/blobs/sha256');
    const sizes = await Promise.all((await fsp.readdir(blobs)).map(async (f) => ({ f, size: (await fsp.stat(path.join(blobs, f))).size })));
    const layer = sizes.sort((x, y) => y.size - x.size)[0]!.f;
    const fh = await fsp.open(path.join(blobs, layer), 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, 20);
    await fh.close();
    const bad = run(entry, ['verify', '--media', media]);
    expect(bad.status).toBe(run(TSC_CLI, ['verify', '--media', media]).status);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain('digest-mismatch');
  });

  it('runs verify and export from bundles of their own: one file each, which refuses any other command by name', async () => {
    expect(Object.keys(OWN_BUNDLES).sort()).toEqual(['export', 'verify']);
    for (const [name, other] of [['verify', 'export'], ['export', 'verify']] as const) {
      const own = path.join(out, `${OWN_BUNDLES[name]}.js`);
      // no chunk imported: Node's module loader pays per file
      expect(await fsp.readFile(own, 'utf8')).not.toMatch(/^import\b[^;]*from\s*"\.\//m);
      const r = run(own, [other, '--help']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`./commands/${other}.js is not in the ${name} bundle`);
      // and its own command is there, as in the tsc build
      expect(run(own, [name, '--help']).stdout).toBe(run(TSC_CLI, [name, '--help']).stdout);
    }
    expect(CLI_ENTRY).toContain(JSON.stringify(OWN_BUNDLES));
  });

  it('keeps its compile cache in the user\'s cache folder', async () => {
    run(entry, ['verify', '--help']);
    expect((await fsp.readdir(path.join(tmp, 'cache', 'ferry-compile-cache'))).length).toBeGreaterThan(0);
  });

  it('runs the same when the compile cache folder cannot be made (Node itself would spin there)', () => {
    const r = run(entry, ['verify', '--help'], { XDG_CACHE_HOME: '/proc/ferry-no-cache' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(run(TSC_CLI, ['verify', '--help']).stdout);
  });
});

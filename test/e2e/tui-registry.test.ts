/**
 * The TUI with a site registry as its media (tsc-built ferry-tui in tmux): `--media
 * docker://…` opens the registry's signed updates like a stick's, and a registry named in
 * the device config (`"media": { "registry": … }`) is in the media list beside any stick
 * found (n walks the list), so a device at a seeded site needs no stick.
 */
import * as fsp from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pushMedia } from '../../src/media/push.js';
import type { TestDevice } from '../helpers/device.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { deviceOn100, makeSignedStick, type SignedStick } from './tui-fixtures.js';
import { TuiSession } from './tui-harness.js';

let world: SignedStick;
let reg: TestRegistry;
let dev: TestDevice;
let repo: string;
let session: TuiSession | undefined;

beforeAll(async () => {
  world = await makeSignedStick();
  reg = await startRegistry();
  await pushMedia({ mediaRoot: world.stick, to: `docker://${reg.host}/site`, registry: { tlsVerify: false } });
  repo = `docker://${reg.host}/site/kiosk`;
  dev = await deviceOn100(world);
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8')) as Record<string, unknown>;
  await fsp.writeFile(dev.configFile, JSON.stringify({ ...cfg, media: { registry: repo, tlsVerify: false } }));
}, 180_000);

afterEach(() => {
  session?.kill();
  session = undefined;
});

afterAll(async () => {
  await dev?.cleanup();
  await reg?.stop();
  await fsp.rm(world?.dir, { recursive: true, force: true });
});

describe('ferry-tui with a site registry', () => {
  it('opens the registry given with --media docker:// and lists its signed updates', async () => {
    session = TuiSession.start(['--config', dev.configFile, '--media', repo], { FERRY_CMDLINE_FILE: dev.cmdlineFile }, { width: 100, height: 30 });
    const screen = await session.waitFor('kiosk-1.1.0', 60_000);
    expect(screen).toContain(repo);
    // 1.0.0 runs already: 1.1.0 is the one offered
    expect(screen).toMatch(/kiosk-1\.0\.0/);
  });

  it('has the registry of the config in its media list, beside any stick found', async () => {
    session = TuiSession.start(['--config', dev.configFile], { FERRY_CMDLINE_FILE: dev.cmdlineFile }, { width: 100, height: 30 });
    let screen = await session.waitFor(/kiosk-|of \d+, n next/, 60_000);
    // other sticks may be mounted on this machine: walk the list to the registry
    for (let i = 0; i < 10 && !screen.includes(repo); i++) {
      session.keys('n');
      await new Promise((r) => setTimeout(r, 1500));
      screen = session.capture();
    }
    expect(screen).toContain(repo);
    screen = await session.waitFor('kiosk-1.1.0', 60_000);
    expect(screen).toContain(repo);
  });
});

import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rows, TuiSession } from './tui-harness.js';

let dir: string;
let session: TuiSession | undefined;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-tui-basics-'));
  await fsp.mkdir(path.join(dir, 'empty-stick'));
});
afterEach(() => session?.kill());
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('ferry-tui (built, in tmux)', () => {
  it('explains a missing device configuration with its code and next step, then quits on q with exit 0', async () => {
    session = TuiSession.start(['--config', path.join(dir, 'nope.json'), '--media', path.join(dir, 'empty-stick')]);
    await session.waitFor('Stick');
    session.keys('q'); // back from the stick screen to the device screen
    const screen = await session.waitFor(/ferry \| Device[\s\S]*Next:/);
    expect(screen).toContain('[CONFIG_INVALID]');
    expect(screen).not.toMatch(/at .*\.js:\d+/); // never a stack trace
    session.keys('q');
    await session.waitFor('[exit 0]');
  });

  it('says how to fix a stick without a FERRY folder', async () => {
    session = TuiSession.start(['--config', path.join(dir, 'nope.json'), '--media', path.join(dir, 'empty-stick')]);
    const screen = await session.waitFor('[MEDIA_NOT_FOUND]');
    expect(screen).toContain('no ferry stick was found');
    expect(rows(screen).some((r) => r.includes('Next: plug in the stick'))).toBe(true);
  });

  it('draws ASCII only on a vt100 serial console without UTF-8, and refuses TERM=dumb', async () => {
    session = TuiSession.start(['--config', path.join(dir, 'nope.json'), '--media', path.join(dir, 'empty-stick')], { TERM: 'vt100', LANG: 'C' });
    const screen = await session.waitFor('Next:');
    expect(screen).toContain('Up/Dn choose');
    expect(screen).not.toMatch(/[^\x00-\x7f]/);
    session.kill();
    session = TuiSession.start(['--config', path.join(dir, 'nope.json')], { TERM: 'dumb' });
    const out = await session.waitFor('[exit 2]');
    expect(out).toContain('ferry-tui: error[USAGE]: ferry-tui needs a terminal that can move the cursor');
  });

  it('prints its options on --help and exits 0', async () => {
    const { spawnSync } = await import('node:child_process');
    const { NODE, TUI } = await import('./tui-harness.js');
    const r = spawnSync(NODE, [TUI, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const o of ['--config <file>', '--media <dir>', '--lang <code>', '--ascii']) expect(r.stdout).toContain(o);
  });

  it('refuses to start without a terminal, in one line and without a stack trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const { NODE, TUI } = await import('./tui-harness.js');
    const r = spawnSync(NODE, [TUI, '--config', path.join(dir, 'nope.json')], { encoding: 'utf8', input: '' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry-tui: error\[\w+\]: ferry-tui needs a terminal/);
    expect(r.status).not.toBe(0);
  });
});

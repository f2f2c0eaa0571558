/**
 * Issue 10, item 8: with two sticks plugged in, pulling the one in use never silently
 * switches to the other (which may be untrusted): the TUI says so and waits for a key.
 * The sticks are found the way a technician's are, by scanning /mnt (one uniquely named
 * link per stick, removed afterwards), at 80x24 and 60x20.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestDevice } from '../helpers/device.js';
import { deviceOn100, makeSignedStick, type SignedStick } from './tui-fixtures.js';
import { cutRows, rows, saveScreen, TuiSession } from './tui-harness.js';

let world: SignedStick;
let session: TuiSession | undefined;
const devices: TestDevice[] = [];
const links: string[] = [];

beforeAll(async () => {
  world = await makeSignedStick();
});
afterEach(async () => {
  session?.kill();
  session = undefined;
  for (const l of links.splice(0)) await fsp.rm(l, { force: true });
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await fsp.rm(world.dir, { recursive: true, force: true });
});

for (const [width, height] of [[80, 24], [60, 20]] as const) {
  describe(`ferry-tui with two sticks (${width}x${height})`, () => {
    it('8: says that the stick in use was pulled and opens the other one only after Enter', async () => {
      const dev = await deviceOn100(world);
      devices.push(dev);
      const other = path.join(world.dir, `other-${width}`);
      await fsp.cp(world.stick, other, { recursive: true });
      // "a-…" sorts first: it is the one in use; "b-…" is the other stick.
      const a = `/mnt/a-ferry-tui-e2e-${process.pid}-${width}`;
      const b = `/mnt/b-ferry-tui-e2e-${process.pid}-${width}`;
      await fsp.symlink(world.stick, a);
      links.push(a);
      await fsp.symlink(other, b);
      links.push(b);
      session = TuiSession.start(['--config', dev.configFile], { FERRY_CMDLINE_FILE: dev.cmdlineFile }, { width, height });
      const s = session;
      let screen = await s.waitFor(new RegExp(`Stick\\s+${a}`));
      expect(screen).toContain('1 of 2');
      await fsp.rm(a);
      screen = await s.waitFor('was removed', 15_000);
      const text = rows(screen).join(' ').replace(/\s+/g, ' ');
      expect(text).toContain(`Stick ${a} was removed. Another stick is in: ${b}. Press Enter to open it.`);
      expect(screen).not.toContain('kiosk-1.1.0'); // nothing of the other stick is shown yet
      expect(cutRows(screen)).toEqual([]);
      await saveScreen(`2-media-stick-pulled${width === 80 ? '' : `-${width}x${height}`}`, screen);
      s.keys('Enter');
      screen = await s.waitFor('kiosk-1.1.0');
      expect(screen).toMatch(new RegExp(`Stick\\s+${b}`));
    });
  });
}

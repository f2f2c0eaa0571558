/**
 * The corpus harness can fail: its snapshot sees a write to a canary, to the running slot
 * and to the trust folder (and ignores the target slot), the FIFO watchdog turns a reader
 * blocked in open(2) into a reported hang, and the terminal check finds every class of
 * control character a stick could smuggle in.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StickKit } from '../helpers/device-stick.js';
import { ESCAPES, fifoWatchdog, findControl, type Jail, makeJail, removeJail, snapshotJail } from '../helpers/hostile-device.js';

/** Just enough of a kit for makeJail: a trust root file. */
const kit = {
  installTrust: async (dir: string) => {
    await fsp.mkdir(path.join(dir, 'roots'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'roots', 'root.pem'), 'root\n');
  },
} as unknown as StickKit;

let jail: Jail | undefined;
afterEach(async () => {
  if (jail) await removeJail(jail);
  jail = undefined;
});

describe('hostile corpus harness', () => {
  it('the jail snapshot sees writes around the slots, in the running slot and the trust folder, not in the target slot', async () => {
    jail = await makeJail(kit);
    const j = jail;
    const base = snapshotJail(j);
    await fsp.writeFile(path.join(j.slotDir('B'), 'new'), 'fine');
    expect(snapshotJail(j)).toEqual(base);
    await fsp.writeFile(path.join(j.slotsCanary, 'canary'), 'pwned');
    expect(snapshotJail(j).around).not.toEqual(base.around);
    await fsp.writeFile(path.join(j.slotsCanary, 'canary'), (await fsp.readFile(path.join(j.rootCanary, 'canary'))).toString());
    expect(snapshotJail(j).around).toEqual(base.around);
    await fsp.mkdir(path.join(j.dev.root, 'planted'));
    expect(snapshotJail(j).around).not.toEqual(base.around);
    await fsp.chmod(path.join(j.slotDir('A'), 'etc', 'passwd'), 0o666);
    expect(snapshotJail(j).running).not.toEqual(base.running);
    execFileSync('setfattr', ['-n', 'user.x', '-v', '1', path.join(j.slotDir('A'), 'etc', 'os-release')]);
    expect(snapshotJail(j).running.nodes['slots/a/etc/os-release']?.xattrs).toBeDefined();
    await fsp.writeFile(path.join(j.dev.trustDir, 'roots', 'evil.pem'), 'evil');
    expect(snapshotJail(j).trust).not.toEqual(base.trust);
  });

  it('the FIFO watchdog unblocks a reader stuck in open(2) and reports the hang', async () => {
    jail = await makeJail(kit);
    const fifo = path.join(jail.dev.root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const dog = fifoWatchdog([fifo], 200);
    try {
      await fsp.readFile(fifo); // blocks until the watchdog opens the write end, then reads EOF
    } finally {
      dog.stop();
    }
    expect(dog.hung()).toEqual([fifo]);
    expect(fs.existsSync(fifo)).toBe(true);
  });

  it('the terminal check finds ESC, C0, DEL, C1 and bidi controls and passes tabs and newlines', () => {
    expect(findControl('installed kiosk-1.0.0\n\tok')).toBeUndefined();
    for (const c of ['\u001b', '\u0007', '\r', '\u007f', '\u009b', '\u202e', '\u2066', '\u200f', '\u061c']) expect(findControl(`a${c}b`), JSON.stringify(c)).toBeDefined();
    expect(findControl(`x${ESCAPES}`)).toBeDefined();
  });
});

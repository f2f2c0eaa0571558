import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { deviceStatus } from '../../src/device/status.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

// A power cut between a temp file's create and its rename leaves `.ferry-tmp-*` behind;
// the next device command removes ferry's own ones (and nothing else) under the lock.
let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

async function leaveTemps(d: TestDevice): Promise<{ stale: string[]; foreign: string[] }> {
  const envDir = path.dirname(d.bootFile);
  const stale = [path.join(d.stateDir, '.ferry-tmp-state.json.0badc0de'), path.join(envDir, `.ferry-tmp-${path.basename(d.bootFile)}.12345678`)];
  // beside the grubenv lives other software's data: only the grubenv's own temp names are ferry's
  const foreign = [path.join(envDir, '.ferry-tmp-someone-else.json.1'), path.join(envDir, 'grub.cfg')];
  await fsp.mkdir(d.stateDir, { recursive: true });
  for (const f of [...stale, ...foreign]) await fsp.writeFile(f, 'partial');
  return { stale, foreign };
}

const exists = (f: string) => fsp.stat(f).then(() => true, () => false);

describe('stale temp files after a power cut', () => {
  it('boot-check removes the state and grubenv temps a cut left, and only those', async () => {
    dev = await makeDevice({ kind: 'grub' });
    const { stale, foreign } = await leaveTemps(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    for (const f of stale) expect(await exists(f), f).toBe(false);
    for (const f of foreign) expect(await exists(f), f).toBe(true);
  });

  it('status with a stick (which takes the lock) removes them too', async () => {
    dev = await makeDevice({ kind: 'grub' });
    const { stale } = await leaveTemps(dev);
    const stick = path.join(dev.root, 'stick');
    await fsp.mkdir(stick);
    await deviceStatus({ ...dev.opts, mediaRoot: stick }, deviceDeps);
    for (const f of stale) expect(await exists(f), f).toBe(false);
  });
});

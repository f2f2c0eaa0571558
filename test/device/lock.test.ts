import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/device/lock.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-lock-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('acquireLock', () => {
  it('refuses a second holder while a live process owns the lock', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await fsp.writeFile(path.join(dir, 'lock'), `${child.pid}\n`);
      await expect(acquireLock(dir, 'apply')).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining(`pid ${child.pid}`) });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('takes over a stale lock left by a killed process, and releases it', async () => {
    // the sleep above is dead now: its pid is stale
    const lock = await acquireLock(dir);
    expect((await fsp.readFile(lock.file, 'utf8')).trim()).toBe(String(process.pid));
    await lock.release();
    await expect(fsp.stat(lock.file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

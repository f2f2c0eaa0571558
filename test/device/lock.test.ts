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
    const bootId = (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    expect((await fsp.readFile(lock.file, 'utf8')).trim()).toBe(`${process.pid} ${bootId}`);
    await lock.release();
    await expect(fsp.stat(lock.file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes over a lock from an earlier boot even when its pid now belongs to a live process', async () => {
    // after a power cut the old pid may be reused: here it is our own parent, which is alive
    await fsp.writeFile(path.join(dir, 'lock'), `${process.ppid} 00000000-0000-0000-0000-000000000000\n`);
    const lock = await acquireLock(dir, 'boot-check');
    await lock.release();
    // the same pid in this boot is a live holder
    const bootId = (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    await fsp.writeFile(path.join(dir, 'lock'), `${process.ppid} ${bootId}\n`);
    await expect(acquireLock(dir)).rejects.toMatchObject({ code: 'LOCKED' });
    await fsp.rm(path.join(dir, 'lock'));
  });

  it('refuses a second holder in the same process (the TUI runs the engine in-process)', async () => {
    const lock = await acquireLock(dir, 'apply');
    try {
      await expect(acquireLock(dir, 'rollback')).rejects.toMatchObject({ code: 'LOCKED' });
    } finally {
      await lock.release();
    }
  });

  it('lets exactly one of several racing callers take over a stale lock', async () => {
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    const bootId = (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    await fsp.writeFile(path.join(dir, 'lock'), `${child.pid} ${bootId}\n`);
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => acquireLock(dir, 'apply')));
    const held = results.filter((r) => r.status === 'fulfilled');
    expect(held).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'LOCKED' });
    await (held[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
  });
});

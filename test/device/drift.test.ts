import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { type DriftReport, driftSlot } from '../../src/device/drift.js';
import { readIndexFile, slotIndexPath } from '../../src/device/files/index-store.js';
import { loadState } from '../../src/device/state.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
let stick: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

/** A device with 1.0.0 freshly written into slot B (a dir slot), booted from A. */
async function installedDevice(extra: Record<string, unknown> = {}): Promise<{ dev: TestDevice; slotB: string }> {
  const dev = await makeDevice({ extra });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  await applyUpdate({ ...dev.opts, mediaRoot: stick }, deviceDeps);
  return { dev, slotB: path.join(dev.root, 'slots', 'b') };
}

const summary = (r: DriftReport): string[] => r.items.map((i) => `${i.change} ${i.path}${i.details ? ` ${i.details.join('; ')}` : ''}`);

describe('device drift', () => {
  it('finds a freshly written slot clean, from the index recorded while it was written', async () => {
    const { dev } = await installedDevice();
    const state = await loadState(dev.stateDir);
    const index = await readIndexFile(slotIndexPath(dev.stateDir, 'B'), 'index');
    expect(index?.image).toBe(state.slots.B.imageDigest);
    expect(index!.entries.length).toBeGreaterThan(5);
    const r = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(summary(r)).toEqual([]);
    expect(r).toMatchObject({ clean: true, slot: 'B', indexFrom: 'device', version: '1.0.0', updateId: 'kiosk-1.0.0' });
    // The root itself is walked too; this image (packed without "./") leaves its metadata open.
    expect(index!.entries.some((e) => e.path === '')).toBe(false);
    expect(r.entriesChecked).toBe(index!.entries.length + 1);
  });

  it('reports content, additions, removals, modes, owners, xattrs and a file replaced by a symlink', async () => {
    const { dev, slotB } = await installedDevice();
    const p = (rel: string): string => path.join(slotB, rel);
    const readme = await fsp.readFile(p('usr/share/doc/readme.txt'));
    await fsp.writeFile(p('usr/share/doc/readme.txt'), Buffer.alloc(readme.length, 0x58)); // same size, other bytes
    await fsp.writeFile(p('etc/added.conf'), 'new\n');
    await fsp.rm(p('etc/hostname'));
    await fsp.chmod(p('etc'), 0o700);
    await fsp.chown(p('etc/ferry/motd'), 1234, 5678);
    execFileSync('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:tmp_t:s0', p('usr')]);
    execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', p('usr/lib/libdemo.so.1.0')]);
    await fsp.rm(p('opt/app/old-a.txt'));
    await fsp.symlink('/tmp/elsewhere', p('opt/app/old-a.txt'));
    const r = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(r.clean).toBe(false);
    expect(summary(r)).toEqual([
      'metadata /etc mode 0755 -> 0700',
      'added /etc/added.conf',
      'metadata /etc/ferry/motd owner 0:0 -> 1234:5678',
      'removed /etc/hostname',
      'metadata /opt/app/old-a.txt type file -> symlink',
      'metadata /usr xattrs added',
      'metadata /usr/lib/libdemo.so.1.0 xattrs added',
      'content /usr/share/doc/readme.txt',
    ]);
    expect(r.counts).toEqual({ added: 1, removed: 1, content: 1, metadata: 5 });
  });

  it('leaves out the config\'s drift.ignore globs and --ignore ones', async () => {
    const { dev, slotB } = await installedDevice({ drift: { ignore: ['/var/**'] } });
    await fsp.mkdir(path.join(slotB, 'var', 'log'), { recursive: true });
    await fsp.writeFile(path.join(slotB, 'var', 'log', 'syslog'), 'lines');
    await fsp.writeFile(path.join(slotB, 'etc', 'machine-id'), 'abc\n');
    await fsp.chmod(path.join(slotB, 'etc', 'ferry', 'motd'), 0o600);
    const r = await driftSlot({ ...dev.opts, slot: 'B', ignore: ['/etc/machine-id', '/etc/*/mo?d'] }, deviceDeps);
    expect(summary(r)).toEqual([]);
    const all = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(summary(all)).toEqual(['metadata /etc/ferry/motd mode 0644 -> 0600', 'added /etc/machine-id']); // /var/** stays ignored by the config
  });

  it('with --fast trusts size and mtime and hashes only files whose size or mtime differ', async () => {
    const { dev, slotB } = await installedDevice();
    const f = path.join(slotB, 'usr', 'share', 'doc', 'readme.txt');
    const st = fs.statSync(f);
    const orig = await fsp.readFile(f);
    await fsp.writeFile(f, Buffer.alloc(orig.length, 0x41)); // same size
    await fsp.utimes(f, st.atime, st.mtime); // and the old mtime: only a hash can tell
    const fast = await driftSlot({ ...dev.opts, slot: 'B', fast: true }, deviceDeps);
    expect(fast.clean).toBe(true);
    expect(fast.filesHashed).toBe(0);
    const full = await driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps);
    expect(summary(full)).toEqual(['content /usr/share/doc/readme.txt']);
    expect(full.filesHashed).toBeGreaterThan(1);
    await fsp.appendFile(path.join(slotB, 'etc', 'ferry', 'motd'), 'x');
    const fast2 = await driftSlot({ ...dev.opts, slot: 'B', fast: true }, deviceDeps);
    expect(summary(fast2)).toEqual(['content /etc/ferry/motd']);
    expect(fast2.filesHashed).toBe(0); // the size alone told
  });

  it('writes a drift receipt to the stick given with --media', async () => {
    const { dev, slotB } = await installedDevice();
    await fsp.writeFile(path.join(slotB, 'etc', 'added'), 'x');
    const r = await driftSlot({ ...dev.opts, slot: 'B', mediaRoot: stick }, deviceDeps);
    expect(r.delivery?.written).toEqual([expect.stringMatching(/-drift\.json$/)]);
    const receipt = JSON.parse(await fsp.readFile(r.delivery!.written[0]!, 'utf8'));
    expect(receipt).toMatchObject({ action: 'drift', result: 'failure', targetSlot: 'B', version: '1.0.0', error: { code: 'DRIFT_FOUND' }, drift: { counts: { added: 1, removed: 0, content: 0, metadata: 0 }, items: [{ path: '/etc/added', change: 'added' }] } });
    expect((await loadState(dev.stateDir)).pendingReceipts).toEqual([]);
  });

  it('refuses a slot with no recorded image or no index (FILE_INDEX_MISSING)', async () => {
    const { dev } = await installedDevice();
    await expect(driftSlot({ ...dev.opts, slot: 'A' }, deviceDeps)).rejects.toMatchObject({ code: 'FILE_INDEX_MISSING' });
    await fsp.rm(slotIndexPath(dev.stateDir, 'B'));
    await expect(driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps)).rejects.toMatchObject({ code: 'FILE_INDEX_MISSING' });
  });
});

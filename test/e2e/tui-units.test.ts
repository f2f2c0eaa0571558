import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');

describe('samples/systemd/ferry-tui@.service', () => {
  it('passes systemd-analyze verify as an instance for a stick partition', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-tui-unit-'));
    try {
      const unit = await fsp.readFile(path.join(REPO, 'samples/systemd/ferry-tui@.service'), 'utf8');
      // The packaged path does not exist on a build machine; point it at an executable that does.
      await fsp.writeFile(path.join(dir, 'ferry-tui@sdb1.service'), unit.replace(/\/usr\/bin\/ferry(-tui)?/g, '/bin/true'));
      const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'ferry-tui@sdb1.service')], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr.split('\n').filter((l) => l.includes('ferry-tui@sdb1.service'))).toEqual([]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('is started by the udev rule for a FERRY-labelled filesystem with the kernel name as instance', async () => {
    const rule = await fsp.readFile(path.join(REPO, 'samples/udev/99-ferry.rules'), 'utf8');
    const active = rule.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(active).toHaveLength(1);
    expect(active[0]).toContain('ENV{ID_FS_LABEL}=="FERRY"');
    expect(active[0]).toContain('ENV{SYSTEMD_WANTS}+="ferry-tui@%k.service ferry-auto@%k.service"');
    const unit = execFileSync('cat', [path.join(REPO, 'samples/systemd/ferry-tui@.service')], { encoding: 'utf8' });
    expect(unit).toContain('--media /run/ferry/media/%I');
    expect(unit).toContain('BindsTo=dev-%i.device');
  });
});

describe('samples/systemd/ferry-auto@.service', () => {
  it('passes systemd-analyze verify and runs only when the config says "onInsert": "auto"', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-auto-unit-'));
    try {
      const unit = await fsp.readFile(path.join(REPO, 'samples/systemd/ferry-auto@.service'), 'utf8');
      expect(unit).toContain('ExecCondition=/usr/bin/ferry device insert-mode --config /etc/ferry/device.json --is auto');
      expect(unit).toContain('ExecStart=/usr/bin/ferry device auto --config /etc/ferry/device.json --media /run/ferry/media/%I');
      expect(unit).toContain('BindsTo=dev-%i.device');
      await fsp.writeFile(path.join(dir, 'ferry-auto@sdb1.service'), unit.replace(/\/usr\/bin\/ferry/g, '/bin/true'));
      const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'ferry-auto@sdb1.service')], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr.split('\n').filter((l) => l.includes('ferry-auto@sdb1.service'))).toEqual([]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The Debian package (scripts/build-deb.sh): built from the single executable, installed with
 * dpkg -i into a debootstrap minbase root (no Node there), provisioned with `ferry device init`
 * and read with `ferry device status`; the boot check is enabled and nothing is started;
 * lintian reports no errors (its warnings are kept in dist/deb/lintian.txt); purge removes it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot } from '../../src/trust/pki.js';
import { makeChroot, type Chroot } from '../helpers/chroot.js';
import { ensureDeviceExecutable } from '../helpers/device-executable.js';

const REPO = path.resolve(import.meta.dirname, '../..');
let box: Chroot;
let deb: string;

beforeAll(async () => {
  ensureDeviceExecutable();
  if (!existsSync(path.join(REPO, 'dist/scripts/gen-man.js'))) execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', REPO]);
  const env = { ...process.env, PATH: `${path.join(REPO, 'node_modules/.bin')}:${process.env.PATH}` };
  deb = path.join(REPO, execFileSync('bash', ['scripts/build-deb.sh'], { cwd: REPO, env, encoding: 'utf8', timeout: 15 * 60_000 }).trim());
  box = await makeChroot('ferry-ship-deb-');
  await fsp.copyFile(deb, path.join(box.root, 'tmp/ferry.deb'));
  await initRoot({ out: path.join(box.root, 'tmp/pki'), name: 'deb test root' });
}, 30 * 60_000);
afterAll(async () => {
  await box?.cleanup();
});

const sh = (script: string) => box.run(['sh', '-c', script]);

describe('ferry_<version>_amd64.deb', () => {
  it('is named after the package version and holds the executable, units, rule, example config, docs and man pages', () => {
    const version = JSON.parse(execFileSync('cat', [path.join(REPO, 'package.json')], { encoding: 'utf8' })).version as string;
    expect(path.basename(deb)).toBe(`ferry_${version}_amd64.deb`);
    const files = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
    for (const f of [
      './usr/bin/ferry',
      './usr/bin/ferry-tui -> ferry',
      './lib/systemd/system/ferry-boot-check.service',
      './lib/systemd/system/ferry-tui@.service',
      './lib/systemd/system/ferry-auto@.service',
      './lib/udev/rules.d/99-ferry.rules',
      './etc/ferry/device.json.example',
      './usr/share/doc/ferry/copyright',
      './usr/share/doc/ferry/README.md.gz',
      './usr/share/man/man1/ferry.1.gz',
      './usr/share/man/man1/ferry-device.1.gz',
      './usr/share/man/man1/ferry-tui.1.gz',
    ]) expect(files).toContain(f);
    const postinst = execFileSync('dpkg-deb', ['-I', deb, 'postinst'], { encoding: 'utf8' });
    expect(postinst).toContain("deb-systemd-helper enable 'ferry-boot-check.service'");
    // installing must never start an update, a reboot or the UI
    expect(postinst).not.toMatch(/deb-systemd-invoke|systemctl[^\n]*(start|restart)|ferry /);
  });

  it('installs with dpkg -i where no Node exists, enables the boot check, and runs device init and status', () => {
    expect(sh('command -v node').status).not.toBe(0);
    const i = box.run(['dpkg', '-i', '/tmp/ferry.deb']);
    expect(i.stderr).toBe('');
    expect(i.status).toBe(0);
    expect(sh('readlink /etc/systemd/system/multi-user.target.wants/ferry-boot-check.service').stdout.trim()).toBe('/lib/systemd/system/ferry-boot-check.service');
    expect(box.run(['ferry', '--version']).stdout.trim()).toBe('0.1.0');
    expect(box.run(['ferry-tui', '--help']).stdout).toContain('Usage: ferry-tui');
    // the example config, turned into a device with dir slots and a JSON boot file
    const cfg = JSON.parse(sh('cat /etc/ferry/device.json.example').stdout);
    Object.assign(cfg, {
      deviceId: 'kiosk-deb-1',
      bootedSlot: 'A',
      slots: { A: { type: 'dir', path: '/srv/slot-a' }, B: { type: 'dir', path: '/srv/slot-b' } },
      bootloader: { type: 'file', path: '/var/lib/ferry/boot.json', attempts: 3 },
    });
    expect(sh(`mkdir -p /srv/slot-a /srv/slot-b && cat > /etc/ferry/device.json <<'EOF'\n${JSON.stringify(cfg)}\nEOF`).status).toBe(0);
    const init = box.run(['ferry', 'device', 'init', '--trust-root', '/tmp/pki/cert.pem', '--version', '1.0.0', '--yes']);
    expect(init.stderr).toBe('');
    expect(init.stdout).toContain('install trust root /etc/ferry/trust/roots/cert.pem');
    const s = box.run(['ferry', 'device', 'status']);
    expect(s.status).toBe(0);
    expect(s.stdout).toMatch(/^device kiosk-deb-1 \(acme,kiosk-v2\), booted slot A/);
    expect(s.stdout).toMatch(/slot A\* good +1\.0\.0/);
  }, 10 * 60_000);

  it('passes lintian without errors', () => {
    const r = spawnSync('lintian', ['--tag-display-limit', '0', deb], { encoding: 'utf8', timeout: 20 * 60_000 });
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => /^[EWIXO]: /.test(l));
    execFileSync('sh', ['-c', `cat > "${path.join(REPO, 'dist/deb/lintian.txt')}"`], { input: lines.join('\n') + '\n' });
    expect(lines.filter((l) => l.startsWith('E: '))).toEqual([]);
  }, 25 * 60_000);

  it('removes and purges cleanly (the boot check is no longer enabled)', () => {
    expect(box.run(['dpkg', '--purge', 'ferry']).status).toBe(0);
    expect(sh('ls /usr/bin/ferry /usr/bin/ferry-tui /etc/systemd/system/multi-user.target.wants/ferry-boot-check.service 2>/dev/null').stdout).toBe('');
    // the device's own files stay: its config, trust and state belong to the site, not the package
    expect(sh('ls /etc/ferry/device.json /var/lib/ferry/state.json').status).toBe(0);
  });
});

import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOsRelease, readOsRelease } from '../../src/device/os-release.js';

describe('parseOsRelease', () => {
  it('reads plain, double- and single-quoted values with escapes, and skips comments and junk', () => {
    const text = '# comment\nID=debian\nNAME="Debian \\"GNU\\"/Linux"\nIMAGE_VERSION=\'1.2.3\'\nnot a line\nlower=x\n';
    expect(parseOsRelease(text)).toEqual({ ID: 'debian', NAME: 'Debian "GNU"/Linux', IMAGE_VERSION: '1.2.3' });
  });
});

describe('readOsRelease', () => {
  it('follows a relative link inside the slot, and falls back to usr/lib/os-release rather than follow one out of it', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-osrel-'));
    try {
      await fsp.mkdir(path.join(root, 'etc'));
      await fsp.mkdir(path.join(root, 'usr/lib'), { recursive: true });
      await fsp.writeFile(path.join(root, 'usr/lib/os-release'), 'VERSION_ID=7\n');
      // links that lead out of the slot name the running system's file: not read, usr/lib/os-release is
      await fsp.symlink('/etc/os-release', path.join(root, 'etc/os-release'));
      expect(await readOsRelease(root)).toEqual({ VERSION_ID: '7' });
      await fsp.rm(path.join(root, 'etc/os-release'));
      await fsp.symlink('../../../../../../etc/os-release', path.join(root, 'etc/os-release'));
      expect(await readOsRelease(root)).toEqual({ VERSION_ID: '7' });
      await fsp.rm(path.join(root, 'etc/os-release'));
      await fsp.symlink('../usr/lib/os-release', path.join(root, 'etc/os-release'));
      await fsp.writeFile(path.join(root, 'usr/lib/os-release'), 'IMAGE_VERSION=8\n');
      expect(await readOsRelease(root)).toEqual({ IMAGE_VERSION: '8' });
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});

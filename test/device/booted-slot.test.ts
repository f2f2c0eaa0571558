import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBootedSlot, slotFromCmdline } from '../../src/device/booted-slot.js';

describe('booted slot', () => {
  it('reads ferry.slot= and RAUC rauc.slot= from the kernel command line, ferry first', () => {
    expect(slotFromCmdline('root=/dev/sda2 ro ferry.slot=B quiet')).toBe('B');
    expect(slotFromCmdline('rauc.slot=A console=ttyS0')).toBe('A');
    expect(slotFromCmdline('rauc.slot=A ferry.slot=B')).toBe('B');
    expect(slotFromCmdline('rauc.slot=system0 quiet')).toBeUndefined();
  });

  it('falls back to the config, then FERRY_BOOTED_SLOT, and explains when nothing says', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-cmdline-'));
    try {
      const f = path.join(dir, 'cmdline');
      await fsp.writeFile(f, 'quiet\n');
      expect(await readBootedSlot({ cmdlineFile: f, configBootedSlot: 'B', env: {} })).toEqual({ slot: 'B', source: 'config' });
      expect(await readBootedSlot({ cmdlineFile: f, env: { FERRY_BOOTED_SLOT: 'A' } })).toEqual({ slot: 'A', source: 'env' });
      await expect(readBootedSlot({ cmdlineFile: f, env: {} })).rejects.toThrow(/ferry.slot=A/);
      await fsp.writeFile(f, 'ferry.slot=A\n');
      expect(await readBootedSlot({ env: { FERRY_CMDLINE_FILE: f, FERRY_BOOTED_SLOT: 'B' } })).toEqual({ slot: 'A', source: 'cmdline' });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

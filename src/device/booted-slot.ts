/**
 * Which slot is running: the kernel command line says so (`ferry.slot=A`, or
 * RAUC's `rauc.slot=A`, set by the boot script), else `bootedSlot` in the config,
 * else FERRY_BOOTED_SLOT. The install target is always the other slot.
 */
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import type { SlotName } from './types.js';

export const DEFAULT_CMDLINE_FILE = '/proc/cmdline';

/** Where the booted slot was learnt from. */
export type BootedSlotSource = 'cmdline' | 'config' | 'env';

/** Find `ferry.slot=` (preferred) or `rauc.slot=` in a kernel command line (pure). */
export function slotFromCmdline(cmdline: string): SlotName | undefined {
  let rauc: SlotName | undefined;
  for (const word of cmdline.trim().split(/\s+/)) {
    const m = /^(ferry|rauc)\.slot=(.*)$/.exec(word);
    if (!m) continue;
    const v = m[2]!.replace(/^"|"$/g, '');
    // RAUC boot scripts often pass the bootname, e.g. rauc.slot=A or rauc.slot=system0; accept A/B only.
    if (v !== 'A' && v !== 'B') continue;
    if (m[1] === 'ferry') return v;
    rauc ??= v;
  }
  return rauc;
}

/** Inputs of booted-slot detection (all overridable for tests). */
export interface BootedSlotInputs {
  cmdlineFile?: string;
  configBootedSlot?: SlotName;
  env?: NodeJS.ProcessEnv;
}

/** Determine the booted slot, or fail with CONFIG_INVALID saying how to declare it. */
export async function readBootedSlot(inputs: BootedSlotInputs = {}): Promise<{ slot: SlotName; source: BootedSlotSource }> {
  const env = inputs.env ?? process.env;
  const file = inputs.cmdlineFile ?? env.FERRY_CMDLINE_FILE ?? DEFAULT_CMDLINE_FILE;
  let cmdline = '';
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      cmdline = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    cmdline = '';
  }
  const fromCmdline = slotFromCmdline(cmdline);
  if (fromCmdline) return { slot: fromCmdline, source: 'cmdline' };
  if (inputs.configBootedSlot) return { slot: inputs.configBootedSlot, source: 'config' };
  const e = env.FERRY_BOOTED_SLOT;
  if (e === 'A' || e === 'B') return { slot: e, source: 'env' };
  throw new FerryError('CONFIG_INVALID', `cannot tell which slot is booted: add ferry.slot=A or ferry.slot=B to the kernel command line (${file}), or set "bootedSlot" in the device config`);
}

/**
 * A bootloader kept in a JSON file with the same semantics as grub/uboot (tests,
 * custom integrations whose boot script reads JSON): {order, slots:{A:{good,
 * attemptsLeft}, B:{...}}}. Replaced atomically on every change.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { readFileCapped, removeStaleTemps, writeFileAtomic } from '../../util/fsx.js';
import { parseStrictJson } from '../../util/json.js';
import type { BootState, Bootloader, SlotName } from '../types.js';
import { otherSlot } from '../types.js';
import { type BootloaderFactory, requireParam } from './common.js';

const FILE_CAP = 64 * 1024;

/** Validate a parsed boot state document. */
export function parseBootState(v: unknown, what: string): BootState {
  const o = v as { order?: unknown; slots?: Record<string, { good?: unknown; attemptsLeft?: unknown }> } | null;
  const okSlot = (s: SlotName) => typeof o?.slots?.[s]?.good === 'boolean' && Number.isInteger(o?.slots?.[s]?.attemptsLeft) && (o!.slots![s]!.attemptsLeft as number) >= 0;
  const order = o?.order;
  const okOrder = Array.isArray(order) && order.length === 2 && order.includes('A') && order.includes('B');
  if (!o || !okOrder || !okSlot('A') || !okSlot('B')) {
    throw new FerryError('BOOTLOADER_ERROR', `${what} must be {"order":["A","B"],"slots":{"A":{"good":true,"attemptsLeft":3},"B":{...}}}`);
  }
  return { order: [...(order as SlotName[])], slots: { A: { good: o.slots!.A!.good as boolean, attemptsLeft: o.slots!.A!.attemptsLeft as number }, B: { good: o.slots!.B!.good as boolean, attemptsLeft: o.slots!.B!.attemptsLeft as number } } };
}

class FileBootloader implements Bootloader {
  readonly type = 'file';
  constructor(
    private readonly file: string,
    private readonly attempts: number,
  ) {}

  async removeStaleTemps(): Promise<void> {
    await removeStaleTemps(path.dirname(this.file), this.file);
  }

  describe(): string {
    return `file ${this.file}`;
  }

  async getState(): Promise<BootState> {
    let bytes: Buffer;
    try {
      bytes = await readFileCapped(this.file, FILE_CAP, 'boot state file');
    } catch (e) {
      throw new FerryError('BOOTLOADER_ERROR', `file: cannot read ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    return parseBootState(parseStrictJson(bytes, FILE_CAP, this.file), `file: ${this.file}`);
  }

  private async update(change: (s: BootState) => void): Promise<void> {
    const s = await this.getState();
    change(s);
    try {
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, JSON.stringify(s, null, 2) + '\n');
    } catch (e) {
      throw new FerryError('BOOTLOADER_ERROR', `file: cannot write ${this.file}: ${(e as Error).message}`, { cause: e });
    }
  }

  setPrimary(slot: SlotName, attempts: number): Promise<void> {
    return this.update((s) => {
      s.order = [slot, otherSlot(slot)];
      s.slots[slot] = { good: true, attemptsLeft: attempts };
    });
  }

  markGood(slot: SlotName): Promise<void> {
    return this.update((s) => {
      s.order = [slot, otherSlot(slot)];
      s.slots[slot] = { good: true, attemptsLeft: this.attempts };
    });
  }

  markBad(slot: SlotName): Promise<void> {
    return this.update((s) => {
      s.order = [otherSlot(slot), slot];
      s.slots[slot] = { good: false, attemptsLeft: 0 };
    });
  }
}

/** Factory for `{"type": "file", "path": "/var/lib/ferry/boot.json"}`. */
export const createFileBootloader: BootloaderFactory = (cfg) => new FileBootloader(requireParam(cfg, 'path'), cfg.attempts);

/**
 * A bootloader driven by a site script, called through /bin/sh as
 * `<command> get` (prints the boot state as JSON, see file.ts),
 * `<command> set-primary <slot> <attempts>`, `<command> mark-good <slot>` and
 * `<command> mark-bad <slot>`; exit 0 means done.
 */
import { FerryError } from '../../errors.js';
import { parseStrictJson } from '../../util/json.js';
import type { BootState, Bootloader, SlotName } from '../types.js';
import { type BootloaderFactory, requireParam, runTool } from './common.js';
import { parseBootState } from './file.js';

class CustomBootloader implements Bootloader {
  readonly type = 'custom';
  constructor(private readonly command: string) {}

  describe(): string {
    return `custom ${this.command}`;
  }

  /** The command may carry its own arguments, so it runs through sh with ours appended as "$@". */
  private run(...args: string[]): Promise<string> {
    return runTool('custom', '/bin/sh', ['-c', `${this.command} "$@"`, 'ferry-bootloader', ...args]);
  }

  async getState(): Promise<BootState> {
    const out = await this.run('get');
    try {
      return parseBootState(parseStrictJson(Buffer.from(out, 'utf8'), 64 * 1024, 'custom bootloader output'), `custom: "${this.command} get" output`);
    } catch (e) {
      throw new FerryError('BOOTLOADER_ERROR', `custom: "${this.command} get" printed no valid boot state: ${(e as Error).message}`, { cause: e });
    }
  }

  async setPrimary(slot: SlotName, attempts: number): Promise<void> {
    await this.run('set-primary', slot, String(attempts));
  }

  async markGood(slot: SlotName): Promise<void> {
    await this.run('mark-good', slot);
  }

  async markBad(slot: SlotName): Promise<void> {
    await this.run('mark-bad', slot);
  }
}

/** Factory for `{"type": "custom", "command": "/usr/libexec/site-boot"}`. */
export const createCustomBootloader: BootloaderFactory = (cfg) => new CustomBootloader(requireParam(cfg, 'command'));

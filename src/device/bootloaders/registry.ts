/**
 * The bootloader registry (STYLE.md rule 3): one factory per type. The config
 * loader rejects unknown types with this list of known ones.
 */
import { FerryError } from '../../errors.js';
import type { BootloaderConfig } from '../config.js';
import type { Bootloader } from '../types.js';
import type { BootloaderContext, BootloaderFactory } from './common.js';
import { createCustomBootloader } from './custom.js';
import { createFileBootloader } from './file.js';
import { createGrubBootloader } from './grub.js';
import { createUbootBootloader } from './uboot.js';

/** Every bootloader type ferry knows. */
export const BOOTLOADER_FACTORIES: Record<string, BootloaderFactory> = {
  grub: createGrubBootloader,
  uboot: createUbootBootloader,
  file: createFileBootloader,
  custom: createCustomBootloader,
};

/** The known bootloader type names. */
export const BOOTLOADER_TYPES: readonly string[] = Object.keys(BOOTLOADER_FACTORIES);

/** Create the bootloader a config section describes (UNKNOWN_BOOTLOADER_TYPE for others). */
export function createBootloader(cfg: BootloaderConfig, ctx: BootloaderContext): Bootloader {
  const factory = Object.hasOwn(BOOTLOADER_FACTORIES, cfg.type) ? BOOTLOADER_FACTORIES[cfg.type] : undefined;
  if (!factory) {
    throw new FerryError('UNKNOWN_BOOTLOADER_TYPE', `bootloader type "${cfg.type}" is unknown (known: ${BOOTLOADER_TYPES.join(', ')})`);
  }
  return factory(cfg, ctx);
}

/**
 * GRUB through its environment block, with RAUC's variables so existing boot
 * scripts keep working: ORDER="A B", A_OK/B_OK (1 = may boot) and A_TRY/B_TRY.
 * RAUC's grub script allows one try (TRY 0 → boot and set 1). ferry generalises
 * this with FERRY_MAX_TRY (default 1 = RAUC's behaviour): the script boots a slot
 * while OK=1 and TRY < FERRY_MAX_TRY and counts TRY up (samples/grub/grub.cfg);
 * mark-good resets TRY to 0, like rauc-mark-good on every boot.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { readFileCapped, removeStaleTemps, writeFileAtomic } from '../../util/fsx.js';
import type { BootState, Bootloader, SlotName } from '../types.js';
import { otherSlot } from '../types.js';
import { type BootloaderFactory, intVar, orderWithFirst, parseOrder, requireParam } from './common.js';
import { decodeGrubenv, encodeGrubenv, GRUBENV_MAX } from './grubenv.js';

/** The boot state that a set of grubenv variables describes. */
export function grubVarsToState(vars: ReadonlyMap<string, string>): BootState {
  const max = intVar(vars.get('FERRY_MAX_TRY'), 1);
  const slot = (s: SlotName) => {
    const good = vars.get(`${s}_OK`) === '1';
    const tries = intVar(vars.get(`${s}_TRY`), 0);
    return { good, attemptsLeft: good ? Math.max(0, max - tries) : 0 };
  };
  return { order: parseOrder(vars.get('ORDER')), slots: { A: slot('A'), B: slot('B') } };
}

/** statfs f_type of FAT (msdos, vfat): the EFI System Partition, where UEFI machines keep the grubenv. */
export const FAT_SUPER_MAGIC = 0x4d44;

/**
 * How to replace the grubenv on a file system of statfs type `fsType`. On FAT, rename is
 * not atomic (vfat rewrites several directory entries; a cut between them can leave no
 * `grubenv` at all), so the block is rewritten in place, as GRUB's own save_env does: the
 * file keeps its clusters, and since ferry's variables fit the first 512-byte sector with
 * the rest '#' padding in both versions, only one sector really changes. Elsewhere (ext4):
 * temp file, fsync, rename, fsync dir.
 */
export function grubenvWriteMode(fsType: number): 'in-place' | 'rename' {
  return fsType === FAT_SUPER_MAGIC ? 'in-place' : 'rename';
}

/** Overwrite the same-size block in place and fsync it. */
async function rewriteInPlace(file: string, bytes: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

class GrubBootloader implements Bootloader {
  readonly type = 'grub';
  constructor(private readonly envFile: string) {}

  async removeStaleTemps(): Promise<void> {
    await removeStaleTemps(path.dirname(this.envFile), this.envFile);
  }

  describe(): string {
    return `grub ${this.envFile}`;
  }

  private async read(): Promise<{ vars: Map<string, string>; size: number }> {
    let bytes: Buffer;
    try {
      bytes = await readFileCapped(this.envFile, GRUBENV_MAX, 'grubenv');
    } catch (e) {
      const hint = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `; create it with \`grub-editenv ${this.envFile} create\`` : '';
      throw new FerryError('BOOTLOADER_ERROR', `grub: cannot read ${this.envFile}: ${(e as Error).message}${hint}`, { cause: e });
    }
    try {
      return { vars: decodeGrubenv(bytes), size: bytes.length };
    } catch (e) {
      throw (e as FerryError).withContext(`grub: ${this.envFile}`);
    }
  }

  private async update(change: (vars: Map<string, string>) => void): Promise<void> {
    const { vars, size } = await this.read();
    change(vars);
    try {
      const st = await fsp.stat(this.envFile);
      const bytes = encodeGrubenv(vars, size);
      if (grubenvWriteMode((await fsp.statfs(this.envFile)).type) === 'in-place') await rewriteInPlace(this.envFile, bytes);
      else await writeFileAtomic(this.envFile, bytes, st.mode & 0o777);
    } catch (e) {
      if (e instanceof FerryError) throw e.withContext(`grub: ${this.envFile}`);
      throw new FerryError('BOOTLOADER_ERROR', `grub: cannot write ${this.envFile}: ${(e as Error).message}`, { cause: e });
    }
  }

  async getState(): Promise<BootState> {
    return grubVarsToState((await this.read()).vars);
  }

  setPrimary(slot: SlotName, attempts: number): Promise<void> {
    return this.update((v) => {
      v.set('ORDER', orderWithFirst(slot));
      v.set(`${slot}_OK`, '1');
      v.set(`${slot}_TRY`, '0');
      v.set('FERRY_MAX_TRY', String(attempts));
    });
  }

  markGood(slot: SlotName): Promise<void> {
    return this.update((v) => {
      v.set('ORDER', orderWithFirst(slot));
      v.set(`${slot}_OK`, '1');
      v.set(`${slot}_TRY`, '0');
    });
  }

  markBad(slot: SlotName): Promise<void> {
    return this.update((v) => {
      v.set('ORDER', orderWithFirst(otherSlot(slot)));
      v.set(`${slot}_OK`, '0');
      v.set(`${slot}_TRY`, '0');
    });
  }
}

/** Factory for `{"type": "grub", "envFile": "/boot/grub/grubenv"}`. */
export const createGrubBootloader: BootloaderFactory = (cfg) => new GrubBootloader(requireParam(cfg, 'envFile'));

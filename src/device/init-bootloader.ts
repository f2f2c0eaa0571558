/**
 * The bootloader's initial state for `ferry device init`: the booted slot first in the
 * order, bootable with the configured attempts; the other slot not bootable (it is empty
 * until the first apply). One initializer per bootloader type (STYLE.md rule 3), each of
 * which reads what is there, lists the changes, and writes them only when asked, so init
 * can show them before it acts and a second run changes nothing.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors.js';
import { readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { parseStrictJson } from '../util/json.js';
import { requireParam, runTool } from './bootloaders/common.js';
import { parseBootState } from './bootloaders/file.js';
import { decodeGrubenv, encodeGrubenv, GRUBENV_MAX, GRUBENV_SIZE } from './bootloaders/grubenv.js';
import { createBootloader } from './bootloaders/registry.js';
import { parseFwPrintenv } from './bootloaders/uboot.js';
import type { BootloaderConfig } from './config.js';
import { otherSlot, type BootState, type SlotName } from './types.js';

/** What init asks of the bootloader, and how. */
export interface BootInitRequest {
  cfg: BootloaderConfig;
  booted: SlotName;
  stateDir: string;
  /** Write the changes (false: only list them). */
  write: boolean;
  /** Replace an unreadable (damaged) boot state instead of failing. */
  force: boolean;
}

/** The changes, one line each ("ORDER: B A -> A B"); empty when the bootloader is already initialised. */
export type BootChanges = string[];

type Initializer = (req: BootInitRequest) => Promise<BootChanges>;

/** Lines for the variables in `want` that differ from `have`. */
function varChanges(have: ReadonlyMap<string, string>, want: Record<string, string>): BootChanges {
  return Object.entries(want)
    .filter(([k, v]) => have.get(k) !== v)
    .map(([k, v]) => `${k}: ${have.has(k) ? `"${have.get(k)}"` : '(unset)'} -> "${v}"`);
}

async function readOptional(file: string, cap: number, what: string): Promise<Buffer | undefined> {
  try {
    return await readFileCapped(file, cap, what);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FerryError('BOOTLOADER_ERROR', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** grub: the grubenv with RAUC's variables plus FERRY_MAX_TRY (samples/grub/grub.cfg); other variables are kept. */
const initGrub: Initializer = async ({ cfg, booted, write, force }) => {
  const file = requireParam(cfg, 'envFile');
  const other = otherSlot(booted);
  const bytes = await readOptional(file, GRUBENV_MAX, 'grubenv');
  let vars = new Map<string, string>();
  let size = Math.max(GRUBENV_SIZE, bytes?.length ?? 0);
  const changes: BootChanges = [];
  if (bytes === undefined) changes.push(`create ${file} (${GRUBENV_SIZE}-byte GRUB environment block)`);
  else {
    try {
      vars = decodeGrubenv(bytes);
    } catch (e) {
      if (!(e instanceof FerryError) || !force) throw new FerryError('BOOTLOADER_ERROR', `grub: ${file} is damaged (${(e as Error).message}); run ferry device init --force to recreate it`, { cause: e });
      changes.push(`recreate the damaged ${file}`);
      size = GRUBENV_SIZE;
    }
  }
  const want = { ORDER: `${booted} ${other}`, [`${booted}_OK`]: '1', [`${booted}_TRY`]: '0', [`${other}_OK`]: '0', [`${other}_TRY`]: '0', FERRY_MAX_TRY: String(cfg.attempts) };
  changes.push(...varChanges(vars, want));
  if (write && changes.length > 0) {
    for (const [k, v] of Object.entries(want)) vars.set(k, v);
    const mode = bytes === undefined ? 0o644 : (await fsp.stat(file)).mode & 0o777;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, encodeGrubenv(vars, size), mode);
  }
  return changes;
};

/** uboot: BOOT_ORDER and BOOT_<slot>_LEFT through fw_printenv / fw_setenv, in one environment write. */
const initUboot: Initializer = async ({ cfg, booted, stateDir, write }) => {
  const configFile = requireParam(cfg, 'configFile');
  const opt = (k: string, d: string) => (typeof cfg[k] === 'string' && cfg[k] !== '' ? (cfg[k] as string) : d);
  const defaults = opt('defaultEnvFile', '');
  const args = ['-c', configFile, ...(defaults ? ['-f', defaults] : [])];
  let have: Map<string, string>;
  try {
    have = parseFwPrintenv(await runTool('uboot', opt('fwPrintenv', 'fw_printenv'), args));
  } catch (e) {
    if (defaults || !(e instanceof FerryError)) throw e;
    throw e.withContext(`the U-Boot environment cannot be read (blank or damaged) and the config names no "defaultEnvFile" to start from; set bootloader.defaultEnvFile to the board's default environment`);
  }
  const want = { BOOT_ORDER: `${booted} ${otherSlot(booted)}`, [`BOOT_${booted}_LEFT`]: String(cfg.attempts), [`BOOT_${otherSlot(booted)}_LEFT`]: '0' };
  const changes = varChanges(have, want);
  if (write && changes.length > 0) {
    await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const script = path.join(stateDir, `.ferry-tmp-fw_setenv.${randomBytes(4).toString('hex')}`);
    await fsp.writeFile(script, Object.entries(want).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
    try {
      await runTool('uboot', opt('fwSetenv', 'fw_setenv'), [...args, '-s', script]);
    } finally {
      await fsp.rm(script, { force: true });
    }
  }
  return changes;
};

function wantedBootState(booted: SlotName, attempts: number): BootState {
  const other = otherSlot(booted);
  return { order: [booted, other], slots: { [booted]: { good: true, attemptsLeft: attempts }, [other]: { good: false, attemptsLeft: 0 } } as BootState['slots'] };
}

function bootStateChanges(have: BootState | undefined, want: BootState): BootChanges {
  const fmt = (s: BootState) => `order ${s.order.join(' ')}, A ${s.slots.A.good ? 'good' : 'not bootable'} (${s.slots.A.attemptsLeft} left), B ${s.slots.B.good ? 'good' : 'not bootable'} (${s.slots.B.attemptsLeft} left)`;
  if (have !== undefined && fmt(have) === fmt(want)) return [];
  return [`boot state: ${have ? fmt(have) : '(none)'} -> ${fmt(want)}`];
}

/** file: the JSON boot file (bootloaders/file.ts), written whole. */
const initFile: Initializer = async ({ cfg, booted, write, force }) => {
  const file = requireParam(cfg, 'path');
  const bytes = await readOptional(file, 64 * 1024, 'boot state file');
  let have: BootState | undefined;
  if (bytes !== undefined) {
    try {
      have = parseBootState(parseStrictJson(bytes, 64 * 1024, file), `file: ${file}`);
    } catch (e) {
      if (!force) throw new FerryError('BOOTLOADER_ERROR', `file: ${file} is damaged (${(e as Error).message}); run ferry device init --force to recreate it`, { cause: e });
    }
  }
  const want = wantedBootState(booted, cfg.attempts);
  const changes = bootStateChanges(have, want);
  if (write && changes.length > 0) {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(want, null, 2) + '\n');
  }
  return changes;
};

/** custom: the site script's own mark-bad (other slot) and mark-good (booted slot). */
const initCustom: Initializer = async ({ cfg, booted, stateDir, write }) => {
  const b = createBootloader(cfg, { stateDir });
  const changes = bootStateChanges(await b.getState(), wantedBootState(booted, cfg.attempts));
  if (write && changes.length > 0) {
    await b.markBad(otherSlot(booted));
    await b.markGood(booted);
  }
  return changes;
};

const INITIALIZERS: Record<string, Initializer> = { grub: initGrub, uboot: initUboot, file: initFile, custom: initCustom };

/** List (and with `write`, make) the changes that give the bootloader its initial state. */
export function initBootloader(req: BootInitRequest): Promise<BootChanges> {
  const init = Object.hasOwn(INITIALIZERS, req.cfg.type) ? INITIALIZERS[req.cfg.type] : undefined;
  if (!init) throw new FerryError('UNKNOWN_BOOTLOADER_TYPE', `ferry device init cannot initialise bootloader type "${req.cfg.type}" (known: ${Object.keys(INITIALIZERS).join(', ')})`);
  return init(req);
}

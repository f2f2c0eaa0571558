/**
 * U-Boot through libubootenv's fw_printenv / fw_setenv (`-c <fw_env.config>`), with
 * RAUC's variables: BOOT_ORDER="A B", BOOT_A_LEFT, BOOT_B_LEFT. The boot script
 * (samples/uboot/boot.cmd) boots the first slot in BOOT_ORDER with LEFT > 0 and
 * decrements LEFT; mark-good sets LEFT back to `attempts`, mark-bad sets it to 0.
 * Several variables are changed in one `fw_setenv -s <script>` call, which
 * libubootenv writes as one environment update (redundant copy flip or one write).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { BootloaderConfig } from '../config.js';
import type { BootState, Bootloader, SlotName } from '../types.js';
import { otherSlot } from '../types.js';
import { type BootloaderFactory, intVar, orderWithFirst, parseOrder, requireParam, runTool } from './common.js';

/** Parse `fw_printenv` output (name=value lines). */
export function parseFwPrintenv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

/** The boot state that a set of U-Boot variables describes. */
export function ubootVarsToState(vars: ReadonlyMap<string, string>): BootState {
  const slot = (s: SlotName) => {
    const left = intVar(vars.get(`BOOT_${s}_LEFT`), 0);
    return { good: left > 0, attemptsLeft: left };
  };
  return { order: parseOrder(vars.get('BOOT_ORDER')), slots: { A: slot('A'), B: slot('B') } };
}

class UbootBootloader implements Bootloader {
  readonly type = 'uboot';
  constructor(
    private readonly configFile: string,
    private readonly attempts: number,
    private readonly stateDir: string,
    private readonly defaultEnvFile: string | undefined,
    private readonly tools: { printenv: string; setenv: string },
  ) {}

  describe(): string {
    return `uboot ${this.configFile}`;
  }

  private baseArgs(): string[] {
    return ['-c', this.configFile, ...(this.defaultEnvFile ? ['-f', this.defaultEnvFile] : [])];
  }

  private async vars(): Promise<Map<string, string>> {
    return parseFwPrintenv(await runTool('uboot', this.tools.printenv, this.baseArgs()));
  }

  /** Set several variables in one atomic environment write. */
  private async set(values: Record<string, string>): Promise<void> {
    await fsp.mkdir(this.stateDir, { recursive: true });
    const script = path.join(this.stateDir, `.ferry-tmp-fw_setenv.${randomBytes(4).toString('hex')}`);
    await fsp.writeFile(script, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
    try {
      await runTool('uboot', this.tools.setenv, [...this.baseArgs(), '-s', script]);
    } finally {
      await fsp.rm(script, { force: true });
    }
  }

  async getState(): Promise<BootState> {
    return ubootVarsToState(await this.vars());
  }

  setPrimary(slot: SlotName, attempts: number): Promise<void> {
    return this.set({ BOOT_ORDER: orderWithFirst(slot), [`BOOT_${slot}_LEFT`]: String(attempts) });
  }

  markGood(slot: SlotName): Promise<void> {
    return this.set({ BOOT_ORDER: orderWithFirst(slot), [`BOOT_${slot}_LEFT`]: String(this.attempts) });
  }

  markBad(slot: SlotName): Promise<void> {
    return this.set({ BOOT_ORDER: orderWithFirst(otherSlot(slot)), [`BOOT_${slot}_LEFT`]: '0' });
  }
}

function optionalString(cfg: BootloaderConfig, key: string, dflt?: string): string | undefined {
  const v = cfg[key];
  return typeof v === 'string' && v.length > 0 ? v : dflt;
}

/**
 * Factory for `{"type": "uboot", "configFile": "/etc/fw_env.config"}`. An unreadable
 * environment (bad CRC) is an error unless `defaultEnvFile` names the defaults to
 * start from: silently starting from an empty environment would lose bootcmd.
 */
export const createUbootBootloader: BootloaderFactory = (cfg, ctx) =>
  new UbootBootloader(requireParam(cfg, 'configFile'), cfg.attempts, ctx.stateDir, optionalString(cfg, 'defaultEnvFile'), {
    printenv: optionalString(cfg, 'fwPrintenv', 'fw_printenv')!,
    setenv: optionalString(cfg, 'fwSetenv', 'fw_setenv')!,
  });

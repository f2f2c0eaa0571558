/**
 * `ferry device auto` (hands-free install on stick insertion, src/device/auto.ts) and
 * `ferry device insert-mode` (what ferry-tui@ and ferry-auto@ ask before they start).
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { autoApply, type AutoEvent, autoOutcomeError } from '../../device/auto.js';
import { loadDeviceConfig } from '../../device/config.js';
import { BOOTLOADER_TYPES } from '../../device/bootloaders/registry.js';
import { apply, DEFAULT_CONFIG_FILE, deviceDeps, type InstallPlan } from '../../device/index.js';
import { mediaRegistryOptions } from '../../device/media-config.js';
import { FerryError } from '../../errors.js';
import { isRegistryMedia, setRegistryMediaOptions } from '../../media/registry-media.js';
import { action, cliProgress, printJson, printLines, printNotes } from '../run.js';

interface AutoCliOptions {
  config: string;
  media?: string;
  json?: boolean;
  console: boolean;
}

function describe(e: AutoEvent): string {
  switch (e.kind) {
    case 'chosen':
      return `chose ${e.plan.update.id} (version ${e.plan.update.target.version}) for slot ${e.plan.target}`;
    case 'staged':
      return `outside the maintenance window: ${e.pending.updateId} is staged and installs at ${e.pending.opensAt} if the stick is still in`;
    case 'window-open':
      return 'the maintenance window is open: verifying the stick again';
    case 'rebooting':
      return 'rebooting into the new slot ("reboot": "auto")';
  }
}

/** The console view only on a terminal that can draw it (the kiosk's tty from ferry-auto@.service). */
function wantsConsole(o: AutoCliOptions): boolean {
  return o.console && !o.json && Boolean(process.stdout.isTTY) && Boolean(process.env.TERM) && process.env.TERM !== 'dumb';
}

/** Resolve when the stick's FERRY folder is gone (checked every second) or `signal` aborts. */
async function untilRemoved(media: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted && (await stat(join(media, 'FERRY')).then(() => true, () => false))) {
    await new Promise<void>((r) => {
      const t = setTimeout(r, 1000);
      signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
}

/**
 * The media of this run: --media, else the config's site registry ("media.registry"); a
 * registry is reached as the config's "media" section says (TLS, CA folder, auth file).
 */
async function resolveMedia(o: AutoCliOptions): Promise<string> {
  const cfg = await loadDeviceConfig(o.config, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
  const media = o.media ?? cfg.media.registry;
  if (media === undefined) throw new FerryError('USAGE', `no --media given and ${o.config} names no site registry ("media": { "registry": "docker://HOST/PREFIX/TARGET" }): pass --media with the stick's folder`);
  if (isRegistryMedia(media)) setRegistryMediaOptions(mediaRegistryOptions(cfg.media));
  return media;
}

async function runAuto(opts: AutoCliOptions): Promise<number> {
  const o = { ...opts, media: await resolveMedia(opts) };
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The console (blessed) is loaded only here, so other commands start without it.
  const view = wantsConsole(o) ? (await import('../../../tui/auto-console.js')).openAutoConsole(o.config, o.media) : undefined;
  const log = (line: string) => (view ? view.note(line) : o.json ? printJson({ event: line }) : printNotes(`ferry: ${line}`));
  const installWithLog = async (plan: InstallPlan) => {
    const progress = cliProgress({ progress: Boolean(o.json) });
    const r = await apply({ configFile: o.config, mediaRoot: o.media, updateId: plan.update.id, signal: ac.signal, ...(progress ? { progress } : {}) }, deviceDeps);
    return { slot: r.plan.target };
  };
  try {
    const r = await autoApply({ configFile: o.config, mediaRoot: o.media, signal: ac.signal, report: (e) => log(describe(e)), install: view ? (p) => view.install(p) : installWithLog }, deviceDeps);
    const err = autoOutcomeError(r);
    if (err || r.kind === 'nothing') throw err;
    const text =
      r.kind === 'installed'
        ? `installed ${r.updateId} into slot ${r.slot}${r.rebooted ? '; rebooting' : '; it starts at the next reboot'}`
        : `the stick was removed before the window opened; ${r.updateId} stays staged and is verified again when the stick comes back`;
    if (view && r.kind === 'installed' && !r.rebooted) {
      // the kiosk keeps saying "done" until the site manager pulls the stick (that also stops the unit)
      view.note(`done: ${r.updateId} is installed in slot ${r.slot} and starts at the next reboot; remove the stick`);
      if (!isRegistryMedia(o.media)) await untilRemoved(o.media, ac.signal);
    }
    view?.close(); // give the console back before the last line, so it stays readable
    if (o.json) printJson({ ok: true, ...r });
    else printLines(text);
    return 0;
  } finally {
    view?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/** Register `ferry device auto` and `ferry device insert-mode`. */
export function registerAuto(device: Command): void {
  device
    .command('auto')
    .description('hands-free: verify the stick and install the chosen update inside the maintenance window, then reboot if the config says "reboot": "auto" (run by ferry-auto@.service)')
    .option('--config <file>', 'device configuration file', DEFAULT_CONFIG_FILE)
    .option('--media <dir>', 'the stick (the folder holding FERRY/) or a site registry docker://HOST[:PORT]/PREFIX/TARGET (default: "media.registry" of the config)')
    .option('--no-console', 'log lines only, even on a terminal (default: the Apply screen on a terminal)')
    .option('--json', 'print events and the result as JSON lines')
    .action(action((o: AutoCliOptions) => runAuto(o)));
  device
    .command('insert-mode')
    .description('print what a stick insertion starts on this device ("tui" or "auto", from "onInsert" in the config); with --is, exit 0 only when it is that')
    .option('--config <file>', 'device configuration file', DEFAULT_CONFIG_FILE)
    .option('--is <mode>', 'tui or auto: exit 1 when the config says otherwise (for ExecCondition=)')
    .action(
      action(async (o: { config: string; is?: string }) => {
        if (o.is !== undefined && o.is !== 'tui' && o.is !== 'auto') throw new FerryError('USAGE', `--is must be tui or auto, not "${o.is}"`);
        const cfg = await loadDeviceConfig(o.config, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
        printLines(cfg.auto.onInsert);
        return o.is === undefined || o.is === cfg.auto.onInsert ? 0 : 1;
      }),
    );
}

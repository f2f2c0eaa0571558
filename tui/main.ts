#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * ferry-tui: the technician's terminal UI. Plug in the stick, see what will happen,
 * update safely. Keyboard only; 80x24 and monochrome are the design target.
 * This file wires the engine adapter, the controller and the blessed view together and
 * owns the process: exit codes, signals, and never showing a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, FerryError, toFerryError } from '../src/errors.js';
import { applyRuntimeFlags } from '../src/node-flags.js';
import { sanitize, sanitizeText } from '../src/util/terminal.js';
import { App } from './app.js';
import { createEngine } from './engine.js';
import { BOOTLOADER_TYPES, DEFAULT_CONFIG_FILE, deviceDeps, loadDeviceConfig, mediaRegistryOptions } from '../src/device/index.js';
import { setRegistryMediaOptions } from '../src/media/registry-media.js';
import { findMediaRoots, mediaRootFor, withRegistry } from './media-scan.js';
import { TerminalView } from './render.js';
import { createRepaintScheduler } from './scheduler.js';
import { ASCII_GLYPHS, UNICODE_GLYPHS } from './state.js';
import { fmt, LANGUAGES, stringsFor, supportedLanguage } from './strings.js';
import { frameFor } from './views/index.js';

interface TuiOptions {
  config?: string;
  media?: string;
  lang: string;
  ascii?: boolean;
}

function parseArgs(argv: string[]): TuiOptions {
  const program = new Command('ferry-tui')
    .description('the technician\'s terminal UI: verify a ferry stick and apply an A/B update safely')
    .option('--config <file>', 'device configuration', process.env.FERRY_CONFIG)
    .option('--media <dir>', 'the stick (the folder holding FERRY/), an archive written by ferry archive, or a site registry docker://HOST[:PORT]/PREFIX/TARGET; default: scan /run/media, /media, /mnt, plus "media.registry" of the config')
    .option('--lang <code>', `language (${Object.keys(LANGUAGES).join(', ')})`, 'en')
    .option('--ascii', 'ASCII marks only (for terminals without UTF-8)')
    .exitOverride()
    .showHelpAfterError();
  program.parse(argv);
  return program.opts<TuiOptions>();
}

function utf8Terminal(): boolean {
  const loc = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '';
  return /utf-?8/i.test(loc) && process.env.TERM !== 'vt100' && process.env.TERM !== 'vt220';
}

/**
 * The config's site registry ("media.registry"), with its TLS settings given to the registry
 * media; undefined without one. A config that does not load is the engine's to report on screen.
 */
async function configuredRegistry(configFile: string): Promise<string | undefined> {
  try {
    const cfg = await loadDeviceConfig(configFile, { slots: deviceDeps.slotTypes, bootloaders: BOOTLOADER_TYPES });
    setRegistryMediaOptions(mediaRegistryOptions(cfg.media));
    return cfg.media.registry;
  } catch {
    return undefined;
  }
}

function fail(e: unknown): never {
  const err = toFerryError(e);
  // Like the CLI: the message (it may quote the stick) sanitised; a stack trace only on request.
  process.stderr.write(`ferry-tui: error[${err.code}]: ${sanitize(err.message)}\n`);
  if (process.env.FERRY_DEBUG && e instanceof Error && e.stack) process.stderr.write(sanitizeText(e.stack) + '\n');
  process.exit(err.exitCode);
}

async function main(): Promise<void> {
  // the TUI's modules are loaded (static imports): src/node-flags.ts
  applyRuntimeFlags();
  let opts: TuiOptions;
  try {
    opts = parseArgs(process.argv);
  } catch (e) {
    process.exit(e instanceof CommanderError && e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE);
  }
  if (!process.stdout.isTTY || !process.stdin.isTTY) fail(new FerryError('USAGE', 'ferry-tui needs a terminal (stdin and stdout must be a tty); use `ferry device` in scripts'));
  if (!process.env.TERM || process.env.TERM === 'dumb') fail(new FerryError('USAGE', `ferry-tui needs a terminal that can move the cursor (TERM=${process.env.TERM ?? ''}); set TERM=linux or vt100, or use \`ferry device\``));
  if (!supportedLanguage(opts.lang)) fail(new FerryError('USAGE', `language "${opts.lang}" is not supported: use one of ${Object.keys(LANGUAGES).join(', ')}`));
  const strings = stringsFor(opts.lang);
  const engine = createEngine({ configFile: opts.config, deps: deviceDeps });
  const fixedMedia = opts.media === undefined ? undefined : await mediaRootFor(opts.media);
  const registry = await configuredRegistry(opts.config ?? DEFAULT_CONFIG_FILE);
  const view = new TerminalView();
  let exiting = false;
  const app: App = new App({
    engine,
    glyphs: opts.ascii || !utf8Terminal() ? ASCII_GLYPHS : UNICODE_GLYPHS,
    strings,
    findMedia: async () => (fixedMedia !== undefined ? [fixedMedia] : withRegistry(await findMediaRoots(), registry)),
    changed: (urgent) => repaint(urgent),
    quit: () => void shutdown(ExitCode.OK),
  });
  const paint = () => {
    if (exiting) return;
    const info = app.state.device.info;
    view.paint(frameFor(app.state, strings, view.bodySize()), info ? `${fmt(strings.engine.statusBar, { device: info.deviceId, slot: info.bootedSlot })} ` : '', strings.ui.appName);
  };
  const repaint = createRepaintScheduler(paint);
  async function shutdown(code: number): Promise<void> {
    if (exiting) return;
    // Never leave mid-apply without asking the engine to stop: it restores the device first.
    app.cancelApply();
    if (app.applying) await app.applying.catch(() => undefined);
    exiting = true;
    view.destroy();
    process.exit(code);
  }
  const crash = (e: unknown) => {
    exiting = true;
    view.destroy();
    fail(e);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, () => void shutdown(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15)));
  view.onKey((k) => app.key(k));
  // Plugging the stick in is enough: look for sticks (new or pulled) every 2 s.
  if (fixedMedia === undefined) setInterval(() => void app.pollMedia().catch(crash), 2000).unref();
  view.onResize(() => repaint(true));
  repaint(true);
  await app.start();
}

await main();

/**
 * The kiosk console during `ferry device auto`: a read-only copy of ferry-tui's Apply screen
 * (same state, same flow, same frame), painted full-screen on the console. No key does anything:
 * nobody is expected at the kiosk, and a stray key must not cancel or change an unattended install.
 */
import { FerryError, type ErrorCode } from '../src/errors.js';
import { deviceDeps, type InstallPlan } from '../src/device/index.js';
import { createEngine } from './engine.js';
import { runApply } from './flows.js';
import { TerminalView } from './render.js';
import { ASCII_GLYPHS, initialState, UNICODE_GLYPHS } from './state.js';
import { fmt, stringsFor } from './strings.js';
import { applyFrame } from './views/progress.js';

/** What the console shows in the key bar instead of keys, and the view's lifetime. */
export interface AutoConsole {
  /** Install with the Apply screen on the console; throws the engine's error. */
  install(plan: InstallPlan): Promise<{ slot: string }>;
  /** One line under the stages (staged for the window, rebooting, …). */
  note(text: string): void;
  close(): void;
}

function utf8(): boolean {
  const loc = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '';
  return /utf-?8/i.test(loc) && process.env.TERM !== 'vt100' && process.env.TERM !== 'vt220';
}

/** Open the console view on this terminal (stdout must be a TTY). */
export function openAutoConsole(configFile: string, mediaRoot: string): AutoConsole {
  const strings = stringsFor('en');
  const engine = createEngine({ configFile, deps: deviceDeps });
  const state = initialState(utf8() ? UNICODE_GLYPHS : ASCII_GLYPHS);
  const view = new TerminalView();
  const e = strings.engine;
  let footer = e.auto_footer;
  let closed = false;
  const paint = () => {
    if (closed || !state.apply) return;
    const f = applyFrame(state, strings, view.bodySize());
    view.paint({ ...f, keys: footer }, `${e.auto_bar} `, strings.ui.appName);
  };
  view.onResize(paint);
  return {
    async install(plan) {
      const info = await engine.plan(mediaRoot, plan.update.id);
      state.screen = 'apply';
      state.apply = { plan: info, stages: [], switched: false, cancelAsked: false, cancelling: false, cancelled: false };
      const host = { state, engine, strings, now: () => Date.now(), changed: paint, log: () => undefined };
      const ok = await runApply(host, mediaRoot, new AbortController().signal);
      const err = state.apply.error;
      footer = ok ? fmt(e.auto_done, { id: info.id, slot: info.targetSlot }) : fmt(e.auto_failed, { code: err?.code ?? 'INTERNAL' });
      paint();
      if (!ok) throw new FerryError((err?.code ?? 'INTERNAL') as ErrorCode, err?.message ?? 'apply failed');
      return { slot: state.done?.outcome.slot ?? info.targetSlot };
    },
    note(text) {
      footer = text;
      if (state.apply) paint();
      else view.paint({ title: e.auto_title, lines: [{ text: `  ${text}` }], keys: '' }, `${e.auto_bar} `, strings.ui.appName);
    },
    close() {
      if (closed) return;
      closed = true;
      view.destroy();
    },
  };
}

/** Which view-model draws which screen. */
import { fitKeys } from '../format.js';
import type { Frame, Line, Size } from '../frame.js';
import { type AppState, type ScreenId, UNICODE_GLYPHS } from '../state.js';
import type { Strings } from '../strings.js';
import { deviceFrame } from './device.js';
import { mediaFrame } from './media.js';
import { applyFrame, verifyFrame } from './progress.js';
import { logFrame, overlayFrame, receiptsFrame } from './log.js';
import { maintFrame } from './maint.js';
import { confirmFrame, doneFrame } from './screens.js';

const VIEWS: Record<ScreenId, (st: AppState, s: Strings, size: Size) => Frame> = {
  device: deviceFrame,
  media: mediaFrame,
  verify: verifyFrame,
  confirm: confirmFrame,
  apply: applyFrame,
  done: doneFrame,
  maint: maintFrame,
  log: logFrame,
  receipts: receiptsFrame,
  detail: overlayFrame,
};

const ASCII_MAP: Array<[RegExp, string]> = [
  [/↑↓/g, 'Up/Dn'],
  [/→/g, '->'],
  [/…/g, '~'],
  [/✓/g, '+'],
  [/✗/g, 'x'],
  [/[^\x00-\x7f]/g, '?'],
];

function toAscii(t: string): string {
  return ASCII_MAP.reduce((acc, [re, to]) => acc.replace(re, to), t);
}

function asciiLine(l: Line): Line {
  return { ...l, text: toAscii(l.text), ...(l.parts ? { parts: l.parts.map((p) => ({ ...p, text: toAscii(p.text) })) } : {}) };
}

/** The frame for the current screen (pure); ASCII-only when the terminal is not UTF-8. */
export function frameFor(st: AppState, s: Strings, size: Size): Frame {
  const raw = VIEWS[st.screen](st, s, size);
  const f = { ...raw, keys: fitKeys(raw.keys, size.width - 1) };
  if (st.glyphs.ok === UNICODE_GLYPHS.ok) return f;
  return { ...f, title: toAscii(f.title), keys: toAscii(f.keys), lines: f.lines.map(asciiLine), ...(f.status ? { status: asciiLine(f.status) } : {}) };
}

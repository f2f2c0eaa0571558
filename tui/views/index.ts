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

/** Marks and letters a terminal without UTF-8 cannot show, as ASCII (the arrows' words come from the catalogue). */
const ASCII_MAP: Array<[RegExp, string]> = [
  [/→/g, '->'],
  [/…/g, '~'],
  [/✓/g, '+'],
  [/✗/g, 'x'],
  [/[„“”]/g, '"'],
];
/** German letters as German writes them without umlauts; `short` keeps the length when the long form would not fit. */
const LETTERS: Record<string, [string, string]> = { ä: ['ae', 'a'], ö: ['oe', 'o'], ü: ['ue', 'u'], Ä: ['Ae', 'A'], Ö: ['Oe', 'O'], Ü: ['Ue', 'U'], ß: ['ss', 's'] };

function toAscii(t: string, s: Strings, width: number): string {
  const marks = ASCII_MAP.reduce((acc, [re, to]) => acc.replace(re, to), t.replace(/↑↓/g, s.ui.asciiUpDown));
  const letters = (short: boolean) => marks.replace(/[äöüÄÖÜß]/g, (c) => LETTERS[c]![short ? 1 : 0]).replace(/[^\x00-\x7f]/g, '?');
  const long = letters(false);
  return Array.from(long).length <= width ? long : letters(true);
}

function asciiLine(l: Line, s: Strings, width: number): Line {
  return { ...l, text: toAscii(l.text, s, width), ...(l.parts ? { parts: l.parts.map((p) => ({ ...p, text: toAscii(p.text, s, width) })) } : {}) };
}

/** The frame for the current screen (pure); ASCII-only when the terminal is not UTF-8. */
export function frameFor(st: AppState, s: Strings, size: Size): Frame {
  const raw = VIEWS[st.screen](st, s, size);
  const f = { ...raw, keys: fitKeys(raw.keys, size.width - 1) };
  if (st.glyphs.ok === UNICODE_GLYPHS.ok) return f;
  const w = size.width;
  return { ...f, title: toAscii(f.title, s, w), keys: fitKeys(toAscii(raw.keys, s, Infinity), w - 1), lines: f.lines.map((l) => asciiLine(l, s, w)), ...(f.status ? { status: asciiLine(f.status, s, w) } : {}) };
}

/** The log (the device's persistent history, then this session), the receipts summary, and the full-text overlay (help, details). */
import type { HistoryEntry } from '../engine-types.js';
import { chunk, fit, formatInstant, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState, Glyphs } from '../state.js';
import { engineWord, explainError, fmt, type Strings } from '../strings.js';

/** One history entry in one line: when, what, the version, the result and, for a failure, what its code means. */
export function historyText(e: HistoryEntry, g: Glyphs, s: Strings): string {
  const why = e.code ? ` [${e.code}] ${explainError(s, e.code).what}` : '';
  return `${formatInstant(e.at)} ${e.ok ? g.ok : g.no} ${engineWord(s, 'action', e.action)}${e.version ? ' ' + e.version : ''}: ${engineWord(s, 'result', e.result)}${why}`;
}

/** The log view: the device's history (kept across runs), then this session's lines; newest last, ↑↓ scroll, Enter shows all. */
export function logFrame(st: AppState, s: Strings, size: Size): Frame {
  const w = size.width;
  const history = st.device.info?.history ?? [];
  const lines: Line[] = [line(fit(s.ui.logDevice, w), 'inverse')];
  const wrapped = (t: string) => wrap(t, w - 2).map((x, i) => line(i === 0 ? x : `  ${x}`));
  lines.push(...(history.length === 0 ? [line(s.ui.noneParen)] : history.flatMap((e) => wrapped(historyText(e, st.glyphs, s)))));
  lines.push(line(fit(s.ui.logSession, w), 'inverse'));
  lines.push(...(st.log.length === 0 ? [line(s.ui.noneParen)] : st.log.flatMap((e) => wrapped(`${e.at.slice(11, 19)} ${e.text}`))));
  const focus = Math.max(0, lines.length - 1 - st.logScroll);
  return { title: s.ui.screenLog, lines, focusLine: focus, keys: s.ui.keysLog };
}

/** The full log text, unwrapped (for the detail overlay): each entry with what the device recorded (its own words) and where its receipt went. */
export function logText(st: AppState, s: Strings): string[] {
  const history = (st.device.info?.history ?? []).flatMap((e) => [
    historyText(e, st.glyphs, s) + (e.deliveredTo ? ' ' + fmt(s.engine.receiptTo, { path: e.deliveredTo }) : ''),
    ...(e.message ? ['    ' + fmt(s.engine.recordedAs, { msg: e.message })] : []),
  ]);
  return [...history, '', ...st.log.map((e) => `${e.at.slice(11, 19)} ${e.text}`)];
}

/** Receipts: what this device has written to sticks, and what still waits for a writable one. */
export function receiptsFrame(st: AppState, s: Strings, size: Size): Frame {
  const w = size.width;
  const g = st.glyphs;
  const info = st.device.info;
  const withReceipt = (info?.history ?? []).filter((e) => e.deliveredTo !== undefined || e.waiting);
  const waiting = withReceipt.filter((e) => e.waiting);
  const sent = withReceipt.filter((e) => !e.waiting);
  const lines: Line[] = [...wrap(fmt(s.ui.receiptsSummary, { sent: sent.length, waiting: info?.pendingReceipts ?? waiting.length }), w).map((t) => line(t, 'bold')), blank];
  lines.push(line(fit(s.ui.receiptsWaitingHead, w), 'inverse'));
  const wrapped = (t: string) => wrap(t, w - 2).map((x, i) => line(i === 0 ? x : `  ${x}`));
  lines.push(...(waiting.length === 0 ? [line(s.ui.noneParen)] : waiting.flatMap((e) => wrapped(historyText(e, g, s)))));
  lines.push(line(fit(s.ui.receiptsSentHead, w), 'inverse'));
  for (const e of sent.slice(-20)) lines.push(...wrapped(historyText(e, g, s)), ...chunk(`${g.arrow} ${e.deliveredTo}`, w - 4).map((t) => line('    ' + t, 'dim')));
  if (sent.length === 0) lines.push(line(s.ui.noneParen));
  return { title: s.ui.screenReceipts, lines, focusLine: lines.length - 1 - st.logScroll, keys: s.ui.keysLog };
}

/** Help or details: the whole text, wrapped to the width (never cut), scrolled with ↑↓. */
export function overlayFrame(st: AppState, s: Strings, size: Size): Frame {
  const o = st.overlay!;
  const lines = o.lines.flatMap((t) => (t === '' ? [blank] : wrap(t, size.width).map((x) => line(x))));
  const top = Math.min(o.scroll, Math.max(0, lines.length - size.height));
  const shown = lines.slice(top, top + size.height);
  const more = lines.length > size.height ? `  (${top + 1}-${top + shown.length}/${lines.length})` : '';
  return { title: o.title, lines: shown, keys: s.ui.keysOverlay + more };
}

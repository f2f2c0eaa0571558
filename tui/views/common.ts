/** Pieces shared by several screens: error panels, key/value rows, buttons. */
import { fit, wrap, wrapOrMore } from '../format.js';
import { type Line, line, parts } from '../frame.js';
import type { ReceiptWait } from '../engine-types.js';
import type { Glyphs, UiError } from '../state.js';
import { explainError, fmt, reasonText, type Strings } from '../strings.js';

/** An error's detail in the technician's language when the engine gave its reason as data; otherwise the engine's own text (evidence: paths, digests, tool output). */
export function errorDetail(err: UiError, s: Strings): string {
  return err.why ? reasonText(s, err.why) : err.message;
}

/** Why receipts wait on the device, in words: what stopped them, or how many wait (no stick was given). */
export function receiptWaitText(s: Strings, w: ReceiptWait | undefined): string {
  if (w === undefined) return s.ui.noStick;
  return w.code ? explainError(s, w.code).what : fmt(s.engine.receiptsKept, { n: w.kept });
}

/** The anti-rollback floor's rise in words (a version, never a counter), or undefined when it does not rise. */
export function floorRiseText(s: Strings, risk: { floor?: boolean; floorVersion?: string } | undefined): string | undefined {
  if (!risk?.floor) return undefined;
  return risk.floorVersion ? fmt(s.engine.floorRises, { v: risk.floorVersion }) : s.engine.floorRisesUnknown;
}

/** An error as three parts: code, what it means here, the next step; then the library's message. */
export function errorLines(err: UiError, s: Strings, g: Glyphs, width: number, maxDetail = 3): Line[] {
  const help = explainError(s, err.code);
  return [
    ...wrap(`${g.no} ${help.what} [${err.code}]`, width).map((t) => line(t, 'bold')),
    ...wrap(`${s.ui.next}: ${help.next}`, width - 2).map((t) => line('  ' + t, 'bold')),
    ...wrapOrMore(`${s.engine.labelDetail}: ${errorDetail(err, s)}`, width - 2, maxDetail, `(${s.ui.moreOnD})`).map((t) => line('  ' + t, 'dim')),
  ];
}

/** A one-line status for the bottom bar from an error. */
export function errorStatus(err: UiError, s: Strings, g: Glyphs, width: number): Line {
  const help = explainError(s, err.code);
  const full = `${g.no} [${err.code}] ${help.next}`;
  // The next step is on the screen above in full; the bar only repeats it when it fits.
  return line(Array.from(full).length <= width ? full : fit(`${g.no} [${err.code}]`, width), 'bold');
}

/** "Label      value", the label padded to `labelWidth`. */
export function kv(label: string, value: string, width: number, labelWidth = 12): Line {
  return line(fit(label.padEnd(labelWidth) + value, width));
}

/** "Label      value" wrapped under the value's column instead of cut (at most `maxLines`). */
export function kvWrap(label: string, value: string, width: number, maxLines = Infinity, labelWidth = 12): Line[] {
  return wrap(value, Math.max(10, width - labelWidth), maxLines).map((t, i) => line((i === 0 ? label.padEnd(labelWidth) : ' '.repeat(labelWidth)) + t));
}

/** A slot's version as a technician says it: the version, or "factory system" for a slot ferry never wrote. */
export function versionName(s: Strings, v: string | undefined, status?: string): string {
  return v ?? (status === 'empty' || status === 'good' ? s.ui.factorySystem : s.ui.unknownVersion);
}

/** Two buttons side by side; the focused one is drawn inverse with arrows (monochrome-safe). */
export function buttons(labels: [string, string], focus: 0 | 1, width: number): Line {
  const draw = (label: string, on: boolean) => ({ text: on ? `>[ ${label} ]<` : ` [ ${label} ] `, style: on ? ('inverse' as const) : ('normal' as const) });
  const left = draw(labels[0], focus === 0);
  const right = draw(labels[1], focus === 1);
  const used = left.text.length + right.text.length + 4;
  const pad = ' '.repeat(Math.max(0, Math.floor((width - used) / 2)));
  return parts({ text: pad }, left, { text: '    ' }, right);
}

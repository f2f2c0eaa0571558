/**
 * Pure text helpers for the terminal UI: sizes, durations, dates, and fitting text
 * into a fixed number of columns (80x24 serial consoles are the design target).
 * Control characters are replaced by the one sanitiser the CLI uses too (src/util/terminal.ts).
 */
import { sanitize } from '../src/util/terminal.js';

/** Bytes as a short human figure: "512 B", "3.4 MiB", "1.20 GiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** Seconds as "1h02m", "3m05s", "42s"; undefined or non-finite as "--". */
export function formatDuration(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec < 0) return '--';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** An RFC 3339 instant as "2026-11-22 01:02Z" (minutes, UTC), or the input when unparseable. */
export function formatInstant(iso: string | undefined): string {
  if (iso === undefined) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

/** The date part only: "2026-11-22". */
export function formatDate(iso: string | undefined): string {
  return formatInstant(iso).slice(0, 10);
}

/** Cut `s` to at most `width` columns, ending in "…" when cut. Control characters become "?". */
export function fit(s: string, width: number): string {
  const clean = sanitize(s);
  if (width <= 0) return '';
  const chars = Array.from(clean);
  if (chars.length <= width) return clean;
  return chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

/** `fit` then pad with spaces to exactly `width` columns. */
export function cell(s: string, width: number): string {
  const f = fit(s, width);
  return f + ' '.repeat(Math.max(0, width - Array.from(f).length));
}

/** Word-wrap `text` (paragraphs split on newlines) to `width` columns, at most `maxLines` lines. */
export function wrap(text: string, width: number, maxLines = Infinity): string[] {
  const out: string[] = [];
  for (const para of text.split(/\r?\n/)) {
    let line = '';
    // A word longer than the line (a path, a digest) is cut into pieces, never cut off.
    const words = sanitize(para).split(/\s+/).filter(Boolean).flatMap((x) => (Array.from(x).length > width && width > 0 ? chunk(x, width) : [x]));
    for (const word of words) {
      if (line === '') line = word;
      else if (Array.from(line).length + 1 + Array.from(word).length <= width) line += ' ' + word;
      else {
        out.push(fit(line, width));
        line = word;
      }
    }
    out.push(fit(line, width));
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  if (out.length > maxLines) return [...out.slice(0, maxLines - 1), fit(out[maxLines - 1]! + ' …', width)];
  return out;
}

/** A text progress bar of `width` columns: "[#####.....]". */
export function bar(fraction: number, width: number, glyphs: { full: string; empty: string } = { full: '#', empty: '.' }): string {
  const inner = Math.max(1, width - 2);
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const n = Math.floor(f * inner);
  return '[' + glyphs.full.repeat(n) + glyphs.empty.repeat(inner - n) + ']';
}

/** Cut a long unbreakable string (a path) into lines of `width` columns, at most `maxLines`. */
export function chunk(s: string, width: number, maxLines = Infinity): string[] {
  const chars = Array.from(sanitize(s));
  const out: string[] = [];
  for (let i = 0; i < chars.length && out.length < maxLines; i += Math.max(1, width)) out.push(chars.slice(i, i + width).join(''));
  if (out.length === maxLines && chars.length > maxLines * width) out[maxLines - 1] = fit(out[maxLines - 1]! + '…', width);
  return out;
}

/**
 * Fit a key bar ("a do  b that  ? help  q back") into `width` columns by dropping whole
 * hints before the last two (help and back stay; `?` lists every key), never cutting one.
 */
export function fitKeys(keys: string, width: number): string {
  const items = keys.split(/ {2,}/);
  while (items.length > 2 && Array.from(items.join('  ')).length > width) items.splice(items.length - 3, 1);
  return fit(items.join('  '), width);
}

/** Word-wrap into at most `maxLines`; when it does not fit, the last line says where the rest is instead of cutting. */
export function wrapOrMore(text: string, width: number, maxLines: number, more: string): string[] {
  const all = wrap(text, width);
  if (all.length <= maxLines) return all;
  return [...all.slice(0, Math.max(0, maxLines - 1)), fit(more, width)];
}

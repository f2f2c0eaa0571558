/**
 * The catalogue: every word the technician reads, one pack per language. A pack is the
 * screen words and help (strings-<lang>.ts), the engine's states, reasons and log lines
 * (strings-<lang>-engine.ts) and the error table (strings-<lang>-errors.ts), keyed by the
 * stable codes in src/errors.ts and src/device/why.ts, never by message text. Adding a
 * language is those three files and one entry in LANGUAGES.
 */
import type { Why } from '../src/device/index.js';
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';
import { formatBytes, formatInstant } from './format.js';
import { HELP_DE, UI_DE } from './strings-de.js';
import { ENGINE_DE } from './strings-de-engine.js';
import { ERRORS_DE } from './strings-de-errors.js';
import { HELP_EN, UI_EN } from './strings-en.js';
import { ENGINE_EN } from './strings-en-engine.js';
import { ERRORS_EN } from './strings-en-errors.js';

export { ENGINE_EN, ERRORS_EN, HELP_EN, UI_EN };

/** An error explained for the field: what happened, and the next step. */
export interface ErrorHelp {
  what: string;
  next: string;
}

/** A full language pack. */
export interface Strings {
  lang: string;
  ui: { [K in keyof typeof UI_EN]: string };
  engine: { [K in keyof typeof ENGINE_EN]: string };
  help: Record<string, string[]>;
  errors: Partial<Record<ErrorCode, ErrorHelp>>;
}

const EN: Strings = { lang: 'en', ui: UI_EN, engine: ENGINE_EN, help: HELP_EN, errors: ERRORS_EN };

/** Language packs; add a language by adding files like strings-de*.ts and an entry here. */
export const LANGUAGES: Record<string, Strings> = {
  en: EN,
  de: { lang: 'de', ui: UI_DE, engine: ENGINE_DE, help: HELP_DE, errors: ERRORS_DE },
};

/** The pack for `lang`, falling back to English (callers check supportedLanguage first). */
export function stringsFor(lang: string | undefined): Strings {
  return (lang !== undefined && LANGUAGES[lang]) || EN;
}

/** True when `lang` has a pack. */
export function supportedLanguage(lang: string): boolean {
  return Object.hasOwn(LANGUAGES, lang);
}

/** Fill `{name}` placeholders. */
export function fmt(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] !== undefined ? String(vars[k]) : m));
}

/** The placeholders of a template, sorted (the catalogue test compares languages with it). */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))].sort();
}

/** Explain an error code; unknown codes fall back by exit-code family. */
export function explainError(s: Strings, code: string): ErrorHelp {
  const known = s.errors[code as ErrorCode];
  if (known) return known;
  const exit = (ERROR_CODES as Record<string, number>)[code];
  const family = exit === 3 ? 'SIGNATURE_INVALID' : exit === 5 ? 'MEDIA_DAMAGED' : exit === 4 ? 'NO_APPLICABLE_UPDATE' : 'INTERNAL';
  return s.errors[family] ?? { what: code, next: '' };
}

/** An engine word by computed key (`status_`, `action_`, `result_`, `phase_` + the engine's name); an unknown name stays as it is. */
export function engineWord(s: Strings, prefix: 'status' | 'action' | 'result' | 'phase', name: string): string {
  const key = `${prefix}_${name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}`;
  return (s.engine as Record<string, string>)[key] ?? name;
}

/**
 * The engine's reason in the technician's language: `why_<key>` filled with its values;
 * byte counts are shown as sizes, instants (`at`) to the minute, a value the engine did
 * not know as "unknown version".
 */
export function reasonText(s: Strings, w: Why): string {
  const template = (s.engine as Record<string, string>)[`why_${w.key}`];
  if (template === undefined) return w.key;
  const vars: Record<string, string | number> = {};
  for (const k of placeholders(template)) {
    const v = w.vars[k];
    if (v === undefined) vars[k] = s.ui.unknownVersion;
    else if (k.endsWith('Bytes') && typeof v === 'number') vars[k] = formatBytes(v);
    else vars[k] = k === 'at' && typeof v === 'string' ? formatInstant(v) : v;
  }
  return fmt(template, vars);
}

/**
 * A translation is one set of files: every word a technician reads in ferry-tui comes
 * from the catalogue (tui/strings-*.ts), every language has every key with the same
 * placeholders, and every state, action and reason the engine reports has its entry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WHY_VARS } from '../../src/device/index.js';
import { ERROR_CODES } from '../../src/errors.js';
import { engineWord, LANGUAGES, placeholders, reasonText, type Strings } from '../../tui/strings.js';
import { literalsOf } from './literals.js';

const TUI = path.join(import.meta.dirname, '..', '..', 'tui');
const EN = LANGUAGES.en!;

/** Every tui/ source file outside the catalogue. */
function sourceFiles(dir = TUI): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !/^strings(-|\.)/.test(e.name) ? [p] : [];
  });
}

/**
 * Text a person reads, as opposed to a key, code, path or markup: two words of letters
 * separated by a space, or (in a template) any word of 3+ lower-case letters between the
 * `${…}` parts. Catalogue placeholders and blessed tags ({bold}) do not count, nor a
 * computed key's prefix (`stage_${…}`).
 */
export function isProse(text: string, template: boolean): boolean {
  const t = text.replace(/\{\/?\w+\}/g, ' ').replace(/\w+_(?=\$\{\})/g, ' ').replace(/\$\{\}/g, ' ');
  if (/[A-Za-z]{2,}[ ]+[A-Za-z]{2,}/.test(t)) return true;
  return template && /[a-z]{3,}/.test(t);
}

/**
 * Where English may stay: the messages of FerryError (the CLI's language, printed on stderr
 * when ferry-tui cannot start or is used from `ferry device auto`) and the command-line
 * options of ferry-tui itself (--help, like `ferry --help`).
 */
const CLI_SURFACE = /new FerryError\(|new Command\(|\.description\(|\.option\(|process\.stderr\.write\(/;

/** The literals of `src` that a technician would read and that do not come from the catalogue. */
function strayLiterals(src: string): string[] {
  const lines = src.split('\n');
  return literalsOf(src)
    .filter((l) => isProse(l.text, l.template))
    .filter((l) => !/^(\.{1,2}\/|node:)/.test(l.text))
    .filter((l) => !CLI_SURFACE.test(lines[l.line - 1] ?? '') && !CLI_SURFACE.test(lines[l.line - 2] ?? ''))
    .map((l) => `${l.line}: ${JSON.stringify(l.text)}`);
}

describe('the catalogue', () => {
  it('holds every word the TUI shows: no tui/*.ts file outside it carries text for the technician', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(20);
    const stray = Object.fromEntries(files.map((f) => [path.relative(TUI, f), strayLiterals(fs.readFileSync(f, 'utf8'))]).filter(([, v]) => v.length > 0));
    expect(stray).toEqual({});
  });

  it('finds the kinds of literal it is there to find (so the scan above can fail)', () => {
    const probe = [
      "h.log('apply: cancel requested');",
      'h.log(`stick removed: ${gone}`);',
      "lines.push(line(fit(`${g.arrow} slot ${p.targetSlot}`, w)));",
      "throw new FerryError('USAGE', 'ferry-tui needs a terminal');",
      "const k = `stage_${x}`; import { a } from './views/common.js';",
      "if (k === 'escape' || code === 'NO_SPACE') line(`{bold}${t}{/bold}`);",
      '// a comment with words in it',
      'const re = /two words/g;',
    ].join('\n');
    expect(strayLiterals(probe)).toEqual(['1: "apply: cancel requested"', '2: "stick removed: ${}"', '3: "${} slot ${}"']);
  });

  for (const [lang, pack] of Object.entries(LANGUAGES).filter(([l]) => l !== 'en')) {
    it(`${lang} has every English key, with the same placeholders, and no key English lacks`, () => {
      const sections = ['ui', 'engine'] as const;
      for (const sec of sections) {
        const en = EN[sec] as Record<string, string>;
        const other = pack[sec] as Record<string, string>;
        expect(Object.keys(other).sort(), `${lang}.${sec}`).toEqual(Object.keys(en).sort());
        for (const [k, v] of Object.entries(en)) expect(placeholders(other[k]!), `${lang}.${sec}.${k}`).toEqual(placeholders(v));
      }
      for (const code of Object.keys(ERROR_CODES) as Array<keyof typeof ERROR_CODES>) {
        expect(pack.errors[code], `${lang}.errors.${code}`).toBeDefined();
        expect(placeholders(pack.errors[code]!.what + pack.errors[code]!.next)).toEqual(placeholders(EN.errors[code]!.what + EN.errors[code]!.next));
      }
      expect(Object.keys(pack.help).sort()).toEqual(Object.keys(EN.help).sort());
      for (const [screen, text] of Object.entries(EN.help)) expect(pack.help[screen]!.length, `${lang}.help.${screen}`).toBe(text.length);
    });
  }

  it('keeps every label of the 12-column label field to 11 characters in every language (a longer one runs into its value)', () => {
    const labels = ['labelBlobs', 'labelBootCheck', 'labelBootOrder', 'labelChain', 'labelClock', 'labelCurrent', 'labelDevice', 'labelFloor', 'labelGoBack', 'labelLast', 'labelNew', 'labelReceipt', 'labelReceipts', 'labelRolledBack', 'labelRunning', 'labelSignature', 'labelSignedBy', 'labelSlot', 'labelWrite', 'colUpdate', 'screenApply'] as const;
    for (const pack of Object.values(LANGUAGES)) for (const k of labels) expect(Array.from(pack.ui[k]).length, `${pack.lang}.${k}: ${pack.ui[k]}`).toBeLessThanOrEqual(11);
  });

  it('has a sentence for every reason the engine gives, using exactly the values it carries', () => {
    for (const [lang, pack] of Object.entries(LANGUAGES)) {
      for (const [key, vars] of Object.entries(WHY_VARS)) {
        const template = (pack.engine as Record<string, string>)[`why_${key}`];
        expect(template, `${lang}: why_${key}`).toBeDefined();
        expect(placeholders(template!), `${lang}: why_${key}`).toEqual([...vars].sort());
      }
    }
    expect(reasonText(EN, { key: 'noSpace', vars: { slot: 'B', freeBytes: 1024, needBytes: 2_097_152, id: 'kiosk-1.1.0' } })).toBe('slot B has 1.00 KiB free but kiosk-1.1.0 needs 2.00 MiB');
    expect(reasonText(LANGUAGES.de!, { key: 'rollbackBad', vars: { slot: 'A' } })).toBe('Slot A (unbekannte Version) ist als schlecht markiert und darf nicht starten, es gibt also nichts, wohin es zurückgeht');
  });

  it('has a word for every slot state, history action and result the engine records, in every language', () => {
    const names: Array<[Parameters<typeof engineWord>[1], string[]]> = [
      ['status', ['good', 'bad', 'pending', 'empty']],
      ['action', ['apply', 'boot-check', 'mark-good', 'mark-bad', 'rollback', 'init']],
      ['result', ['success', 'failure', 'cancelled', 'rolled-back', 'nothing-to-do']],
      ['phase', ['signature', 'blobs', 'ok', 'failed', 'stopped']],
    ];
    const keyed = (s: Strings, prefix: string, n: string) => Object.hasOwn(s.engine, `${prefix}_${n.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}`);
    for (const [, pack] of Object.entries(LANGUAGES)) for (const [prefix, list] of names) for (const n of list) expect(keyed(pack, prefix, n), `${pack.lang}: ${prefix} ${n}`).toBe(true);
    expect(engineWord(LANGUAGES.de!, 'status', 'pending')).toBe('Probe');
    expect(engineWord(LANGUAGES.de!, 'action', 'boot-check')).toBe('Bootprüfung');
  });
});

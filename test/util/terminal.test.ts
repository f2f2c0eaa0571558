import { describe, expect, it } from 'vitest';
import { sanitize, sanitizeText, terminalSafeJson } from '../../src/util/terminal.js';
import { fit, wrap } from '../../tui/format.js';

/** Every character a terminal acts on instead of printing (the class ferry refuses to print raw). */
const ACTING = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
  0x061c,
  ...[0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e],
  ...[0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb],
].map((c) => String.fromCharCode(c));

describe('sanitize', () => {
  it('turns every acting character into "?", newlines and tabs included, and keeps printable text', () => {
    for (const c of ACTING) expect(sanitize(`a${c}b`), `U+${c.charCodeAt(0).toString(16)}`).toBe('a?b');
    expect(sanitize('kiosk-1.0.0 → slot B, größe 3 MiB, 日本')).toBe('kiosk-1.0.0 → slot B, größe 3 MiB, 日本');
  });

  it('keeps newlines and tabs only in sanitizeText (stack traces)', () => {
    expect(sanitizeText('a\nb\tc\x1b[2Kd\re\u009b')).toBe('a\nb\tc?[2Kd?e?');
  });

  it('is the one the TUI uses (fit, wrap)', () => {
    expect(fit('x\x1b]0;t\x07\u202ey', 20)).toBe('x?]0;t??y');
    expect(wrap('a\x1b[2K b\u2066', 20)).toEqual(['a?[2K b?']);
  });
});

describe('terminalSafeJson', () => {
  it('writes no acting character raw and parses back to the very same value, for every BMP character', () => {
    const all = Array.from({ length: 0xd800 }, (_, i) => String.fromCharCode(i)).join('') + Array.from({ length: 0x10000 - 0xe000 }, (_, i) => String.fromCharCode(0xe000 + i)).join('');
    const value = { s: all, nested: [{ k: 'x\u009b31m\u202e' }] };
    const text = terminalSafeJson(value);
    for (const c of ACTING) expect(text.includes(c), `U+${c.charCodeAt(0).toString(16)} raw`).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('is plain JSON.stringify for text without such characters', () => {
    const v = { ok: true, n: 3, s: 'kiosk-1.0.0 größe' };
    expect(terminalSafeJson(v)).toBe(JSON.stringify(v));
  });
});

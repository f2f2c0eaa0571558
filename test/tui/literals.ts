/**
 * A small TypeScript lexer for one question: which string literals (and the fixed parts of
 * template literals) does a source file contain, and on which line? Comments, regular
 * expressions and `${…}` code are skipped. Used by catalogue.test.ts to find words a
 * technician would read that are not in the catalogue.
 */

/** One literal: its text (a template's fixed parts joined by "${}") and its 1-based line. */
export interface Literal {
  text: string;
  line: number;
  template: boolean;
  /** The offset of the opening quote in the source. */
  at: number;
}

/** Characters after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '\n', '+', '-', '*', '%', '<', '>', '~', '^']);

/** Every string and template literal in `src`, in order. */
export function literalsOf(src: string): Literal[] {
  const out: Literal[] = [];
  let i = 0;
  let line = 1;
  let prev = '\n';
  const take = (): string => {
    const c = src[i++]!;
    if (c === '\n') line++;
    return c;
  };
  function quoted(q: string): string {
    let t = '';
    while (i < src.length && src[i] !== q) t += src[i] === '\\' ? (take(), take()) : take();
    take();
    return t;
  }
  function template(): string {
    let t = '';
    while (i < src.length && src[i] !== '`') {
      if (src[i] === '\\') t += (take(), take());
      else if (src[i] === '$' && src[i + 1] === '{') {
        i += 2;
        code(1);
        t += '${}';
      } else t += take();
    }
    take();
    return t;
  }
  function regex(): void {
    let cls = false;
    while (i < src.length) {
      const c = take();
      if (c === '\\') take();
      else if (c === '[') cls = true;
      else if (c === ']') cls = false;
      else if (c === '/' && !cls) break;
      else if (c === '\n') break;
    }
    while (/[a-z]/.test(src[i] ?? '')) i++;
  }
  /** Scan code until the brace depth returns to zero (an infinite depth: to the end). */
  function code(depth: number): void {
    while (i < src.length) {
      const c = src[i]!;
      if (c === '/' && src[i + 1] === '/') {
        while (i < src.length && src[i] !== '\n') i++;
      } else if (c === '/' && src[i + 1] === '*') {
        const end = src.indexOf('*/', i + 2);
        const stop = end < 0 ? src.length : end + 2;
        while (i < stop) take();
      } else if (c === '\'' || c === '"') {
        const [at, start] = [line, i];
        take();
        out.push({ text: quoted(c), line: at, template: false, at: start });
        prev = 'x';
      } else if (c === '`') {
        const [at, start] = [line, i];
        take();
        out.push({ text: template(), line: at, template: true, at: start });
        prev = 'x';
      } else if (c === '/' && (REGEX_AFTER.has(prev) || /\b(return|typeof|case)\s*$/.test(src.slice(Math.max(0, i - 8), i)))) {
        take();
        regex();
        prev = 'x';
      } else {
        take();
        if (c === '{') depth++;
        if (c === '}' && depth > 0 && --depth === 0) return;
        if (!/\s/.test(c) || c === '\n') prev = c === '\n' ? prev : c;
      }
    }
  }
  code(Number.POSITIVE_INFINITY);
  return out;
}

/**
 * Making text safe for a terminal. Strings from a stick (index.json is unsigned; file names,
 * signer subjects and release notes are chosen by whoever made it) may hold ESC sequences
 * that erase lines or retitle the window, carriage returns and backspaces that overwrite
 * what was printed, C1 controls (U+009B is a one-character CSI), and bidi overrides that
 * reorder a line. Every line ferry prints for a person passes through here (the CLI's output
 * helpers in src/cli/run.ts, the TUI's format.ts); JSON output through `terminalSafeJson`.
 */

/**
 * Characters a terminal acts on instead of printing: C0 controls, DEL, C1 controls, the
 * Arabic letter mark, zero-width and directional marks, line and paragraph separators, bidi
 * embeddings, overrides and isolates, invisible operators, the BOM and interlinear annotations.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/** The same set without newline and tab, for whole blocks of text. */
// eslint-disable-next-line no-control-regex
const CONTROLS_BUT_NL_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/** One line of text: every control character (newlines included: no forged extra lines) becomes "?". */
export function sanitize(s: string): string {
  return s.replace(CONTROLS, '?');
}

/** A block of text (a stack trace): as `sanitize`, but newlines and tabs are kept. */
export function sanitizeText(s: string): string {
  return s.replace(CONTROLS_BUT_NL_TAB, '?');
}

/** Characters JSON.stringify leaves raw that a terminal would act on (C0 it escapes already). */
// eslint-disable-next-line no-control-regex
const JSON_RAW_CONTROLS = /[\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * JSON.stringify, with the controls it leaves raw written as \uXXXX escapes: the text is safe
 * on a terminal and parses to exactly the same value (outside strings JSON has only ASCII).
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A Frame is everything one screen shows, as plain data: the view-models produce it
 * from engine data (pure), the blessed layer only paints it. Keeping this seam is what
 * makes the screens unit-testable without a terminal.
 */

/** Monochrome-safe emphasis: serial consoles have bold and inverse, rarely colour. */
export type LineStyle = 'normal' | 'bold' | 'inverse' | 'dim';

/** One body line, already fitted to the body width. */
export interface Line {
  text: string;
  style?: LineStyle;
  /** Inline parts with their own style (buttons); when set, `text` is their concatenation. */
  parts?: Array<{ text: string; style?: LineStyle }>;
}

/** One screen's content. */
export interface Frame {
  /** Shown in the top bar, left. */
  title: string;
  /** Body lines; the renderer scrolls so that `focusLine` stays visible. */
  lines: Line[];
  /** The line to keep in view (selected row); defaults to the top. */
  focusLine?: number;
  /** Key hints for the bottom bar, e.g. "Enter verify  r rescan  q back". */
  keys: string;
  /** A one-line status/error message above the key hints. */
  status?: Line;
}

/** The space the body has, in columns and rows. */
export interface Size {
  width: number;
  height: number;
}

/** A plain line. */
export function line(text: string, style: LineStyle = 'normal'): Line {
  return style === 'normal' ? { text } : { text, style };
}

/** An empty line. */
export const blank: Line = { text: '' };

/** A line made of styled parts (e.g. "[ Back ]  [ Install ]" with the focused one inverse). */
export function parts(...ps: Array<{ text: string; style?: LineStyle }>): Line {
  return { text: ps.map((p) => p.text).join(''), parts: ps };
}

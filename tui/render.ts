/**
 * The only blessed-dependent code: paints a Frame into three regions (title bar, body,
 * status + key bar) and reports keys and resizes. Monochrome-safe: bold and inverse only.
 * No mouse. Text from the stick is escaped, so it cannot inject blessed tags.
 */
import blessed from 'blessed';
import type { Frame, Line, LineStyle, Size } from './frame.js';
import { fit } from './format.js';

/** Options for the terminal (tests pass their own streams). */
export interface RenderOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  terminal?: string;
}

function styled(text: string, style: LineStyle | undefined): string {
  const t = blessed.escape(text);
  switch (style) {
    case 'bold':
      return `{bold}${t}{/bold}`;
    case 'inverse':
      return `{inverse}${t}{/inverse}`;
    case 'dim':
    case 'normal':
    case undefined:
      return t;
  }
}

function lineMarkup(l: Line): string {
  return l.parts ? l.parts.map((p) => styled(p.text, p.style)).join('') : styled(l.text, l.style);
}

/** First body line to show so that `focus` is visible. */
export function scrollOffset(total: number, height: number, focus: number): number {
  if (total <= height) return 0;
  return Math.max(0, Math.min(total - height, focus - Math.floor(height / 2)));
}

/** A blessed screen showing one Frame at a time. */
export class TerminalView {
  private readonly screen: blessed.Widgets.Screen;
  private readonly titleBar: blessed.Widgets.BoxElement;
  private readonly body: blessed.Widgets.BoxElement;
  private readonly statusBar: blessed.Widgets.BoxElement;
  private readonly keyBar: blessed.Widgets.BoxElement;

  constructor(opts: RenderOptions = {}) {
    this.screen = blessed.screen({
      smartCSR: true,
      ...(opts.input ? { input: opts.input } : {}),
      ...(opts.output ? { output: opts.output } : {}),
      ...(opts.terminal ? { terminal: opts.terminal } : {}),
      title: 'ferry',
      autoPadding: false,
      warnings: false,
      // Unicode glyphs (✓ ✗ …) are single-width BMP characters; no wide-char mode needed.
      fullUnicode: false,
    } as blessed.Widgets.IScreenOptions);
    const box = (o: blessed.Widgets.BoxOptions) => blessed.box({ parent: this.screen, tags: true, wrap: false, ...o });
    this.titleBar = box({ top: 0, left: 0, width: '100%', height: 1, style: { inverse: true } });
    this.body = box({ top: 1, left: 0, width: '100%', height: '100%-3' });
    this.statusBar = box({ bottom: 1, left: 0, width: '100%', height: 1 });
    this.keyBar = box({ bottom: 0, left: 0, width: '100%', height: 1, style: { inverse: true } });
  }

  /** Columns and rows the body has. */
  bodySize(): Size {
    return { width: Math.max(20, this.screen.width as number), height: Math.max(3, (this.screen.height as number) - 3) };
  }

  /** Paint one frame. */
  paint(f: Frame, right: string, app: string): void {
    const { width, height } = this.bodySize();
    const r = fit(right, Math.max(0, width - 20));
    this.titleBar.setContent(blessed.escape(fit(` ${app} | ${f.title}`, width - r.length - 1).padEnd(width - r.length - 1) + r));
    const off = scrollOffset(f.lines.length, height, f.focusLine ?? 0);
    this.body.setContent(f.lines.slice(off, off + height).map((l) => lineMarkup({ ...l, text: fit(l.text, width) })).join('\n'));
    this.statusBar.setContent(f.status ? lineMarkup(f.status) : '');
    this.keyBar.setContent(blessed.escape(fit(' ' + f.keys, width)));
    this.screen.render();
  }

  /** Key names: "up", "enter", "tab", "escape", "C-c", or the character typed. */
  onKey(fn: (name: string) => void): void {
    this.screen.on('keypress', (ch: string | undefined, key: { name?: string; full?: string; ctrl?: boolean; shift?: boolean } | undefined) => {
      const name = key?.full ?? key?.name ?? ch;
      if (name === undefined || name === 'return' || name === 'linefeed') return;
      fn(name === 'space' ? ' ' : name);
    });
  }

  /** Called after the terminal was resized. */
  onResize(fn: () => void): void {
    this.screen.on('resize', fn);
  }

  /** Give the terminal back (cursor, normal screen, cooked mode). */
  destroy(): void {
    this.screen.destroy();
  }
}

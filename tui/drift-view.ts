/**
 * The Device screen's "Files" line: does the running system still equal the image it was
 * installed from (`ferry device drift --fast`, run in the background once the device is
 * read)? "System matches image 1.1.0", or how many files differ; the d detail view lists them.
 * A system ferry has no file list for (written before ferry kept one) shows no line at all.
 */
import type { DriftSummary, TuiEngine } from './engine-types.js';
import { type Line, line } from './frame.js';
import type { AppState, UiError } from './state.js';
import { fmt, type Strings } from './strings.js';
import { kvWrap } from './views/common.js';

/** Where the check stands. */
export type DriftView = { state: 'checking' } | { state: 'done'; summary: DriftSummary } | { state: 'unknown' } | { state: 'error'; error: UiError };

/** Differences listed in the detail view at most (the count is always complete). */
const DETAIL_MAX = 200;

/** Run the check for the running slot and keep its result in the state; repaint when it lands. */
export async function checkDrift(state: AppState, engine: TuiEngine, changed: () => void, toError: (e: unknown) => UiError): Promise<void> {
  if (!engine.drift || state.device.drift?.state === 'checking') return;
  state.device.drift = { state: 'checking' };
  changed();
  try {
    state.device.drift = { state: 'done', summary: await engine.drift() };
  } catch (e) {
    const error = toError(e);
    state.device.drift = error.code === 'FILE_INDEX_MISSING' ? { state: 'unknown' } : { state: 'error', error };
  }
  changed();
}

/** The line(s) on the Device screen; none while nothing is known. */
export function driftLines(view: DriftView | undefined, s: Strings, width: number): Line[] {
  if (!view || view.state === 'unknown') return [];
  const text = view.state === 'checking' ? s.ui.filesChecking : view.state === 'error' ? fmt(s.ui.filesError, { code: view.error.code }) : driftWords(view.summary, s);
  return kvWrap(s.ui.labelFiles, text, width).map((l) => (view.state === 'done' && !view.summary.clean ? line(l.text, 'bold') : l));
}

function driftWords(d: DriftSummary, s: Strings): string {
  const v = d.version ?? s.ui.unknownVersion;
  return d.clean ? fmt(s.ui.filesMatch, { v }) : fmt(d.count === 1 ? s.ui.filesDifferOne : s.ui.filesDiffer, { n: d.count, v });
}

/** The detail view's part: every difference (up to DETAIL_MAX), one per line. */
export function driftText(view: DriftView | undefined, s: Strings): string[] {
  if (!view || view.state !== 'done') return [];
  const d = view.summary;
  const head = `${s.ui.labelFiles}: ${driftWords(d, s)}`;
  const sign = { added: '+', removed: '-', content: 'M', metadata: 'm' } as const;
  const items = d.items.slice(0, DETAIL_MAX).map((i) => `  ${sign[i.change]} ${i.path}${i.details?.length ? `  (${i.details.join(', ')})` : ''}`);
  const more = d.count > items.length ? [`  ${fmt(s.ui.filesMore, { n: d.count - items.length })}`] : [];
  return d.clean ? ['', head] : ['', head, `  ${s.ui.filesLegend}`, ...items, ...more];
}

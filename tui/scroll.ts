/**
 * Keys of the views that only scroll and back out: the log, the receipts and the
 * full-text overlay (help, details). One set of back keys for every screen.
 */
import type { AppState, ScreenId } from './state.js';

/** Keys that back out of any screen. */
export const BACK = new Set(['q', 'escape', 'C-c']);

/** Log and receipts: ↑↓ (or k/j) scroll, q/Esc/Enter back. */
export function scrollKey(st: AppState, k: string, back: () => void): void {
  if (BACK.has(k) || k === 'enter') back();
  else if (k === 'up' || k === 'k') st.logScroll += 1;
  else if (k === 'down' || k === 'j') st.logScroll = Math.max(0, st.logScroll - 1);
}

/** The full-text overlay: ↑↓ (or k/j, space) scroll, q/Esc/Enter/?/d back to the screen it covers. */
export function overlayKey(st: AppState, k: string, go: (screen: ScreenId) => void): void {
  const o = st.overlay!;
  if (BACK.has(k) || k === 'enter' || k === '?' || k === 'd') go(o.back);
  else if (k === 'up' || k === 'k') o.scroll = Math.max(0, o.scroll - 1);
  else if (k === 'down' || k === 'j' || k === ' ') o.scroll += 1;
}

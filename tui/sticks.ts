/**
 * Sticks: finding them (polled), opening one, listing its updates, and delivering the
 * receipts that wait in the device as soon as a writable stick is in. A stick that is
 * pulled while another is present is never replaced silently: the other one opens only
 * after a key press (it may be an untrusted stick).
 */
import type { TuiEngine } from './engine-types.js';
import { failedLine, uiError } from './flows.js';
import type { AppState, ScreenId } from './state.js';
import { fmt, type Strings } from './strings.js';
import { receiptWaitText } from './views/common.js';
import { problemOf } from './views/media.js';

/** What the stick logic needs from the controller. */
export interface StickHost {
  state: AppState;
  engine: TuiEngine;
  log(text: string): void;
  /** The catalogue of the chosen language. */
  readonly strings: Strings;
  changed(urgent: boolean): void;
  go(screen: ScreenId): void;
  root(): string | undefined;
  findMedia(): Promise<string[]>;
  refreshDevice(): Promise<void>;
  openMedia(roots?: string[]): Promise<void>;
  loadListing(): Promise<void>;
  deliverReceipts(root: string): Promise<void>;
}

/**
 * Called every few seconds by main.ts while the technician is on the device or stick
 * screen: a newly plugged stick opens by itself (and receives waiting receipts); a pulled
 * one is shown as gone, and another stick is only opened after a key press.
 */
export async function pollMedia(h: StickHost): Promise<void> {
  const m = h.state.media;
  const screen = h.state.screen;
  if ((screen !== 'device' && screen !== 'media') || m.loading) return;
  const roots = await h.findMedia();
  if (h.state.screen !== screen || m.loading || roots.join('\n') === m.roots.join('\n')) return;
  const inUse = h.root();
  const added = roots.filter((r) => !m.roots.includes(r));
  for (const gone of m.roots.filter((r) => !roots.includes(r))) {
    h.log(fmt(h.strings.engine.log_stickRemoved, { root: gone }));
    for (const k of Object.keys(m.verdicts)) if (k.startsWith(`${gone}\n`)) delete m.verdicts[k];
  }
  if (inUse !== undefined && roots.includes(inUse)) {
    m.roots = roots;
    m.rootIndex = roots.indexOf(inUse);
    for (const r of added) await h.deliverReceipts(r);
  } else if (inUse !== undefined && roots.length > 0) {
    // Never switch to another stick silently: it may be an untrusted one.
    m.roots = roots;
    m.rootIndex = 0;
    delete m.listing;
    m.switchNotice = { gone: inUse, next: roots[0]! };
    h.go('media');
  } else if (roots.length > 0) {
    h.log(fmt(h.strings.engine.log_stickFound, { roots: roots.join(', ') }));
    if (h.state.device.info?.attention) {
      m.roots = roots;
      await h.deliverReceipts(roots[0]!);
    } else await h.openMedia(roots);
  } else {
    m.roots = [];
    if (screen === 'media') await h.loadListing();
  }
  h.changed(true);
}

/** Write the receipts waiting in the device to a freshly found stick, and say what went there. */
export async function deliverReceipts(h: StickHost, root: string): Promise<void> {
  if (!h.state.device.info || h.state.device.info.pendingReceipts === 0) return;
  try {
    const d = await h.engine.deliverReceipts(root);
    h.state.media.delivered = { root, written: d.written, ...(d.problem ? { problem: d.problem } : {}) };
    const e = h.strings.engine;
    if (d.written.length > 0) h.log(fmt(e.log_receiptsWritten, { n: d.written.length, root, files: d.written.join(', ') }));
    if (d.problem) h.log(fmt(e.log_receiptsKept, { why: receiptWaitText(h.strings, d.problem) }));
  } catch (e) {
    const err = uiError(e, h.strings);
    h.state.media.delivered = { root, written: [], problem: { kept: h.state.device.info?.pendingReceipts ?? 0, code: err.code, detail: err.message } };
    h.log(failedLine(h.strings, h.strings.engine.log_receipts, err));
  }
  await h.refreshDevice();
}

/** Show screen 2 for the given sticks (rescanning when none are given). */
export async function openMedia(h: StickHost, roots?: string[]): Promise<void> {
  const m = h.state.media;
  h.go('media');
  delete m.switchNotice;
  m.loading = true;
  h.changed(true);
  const before = m.roots;
  m.roots = roots ?? (await h.findMedia());
  m.rootIndex = Math.min(m.rootIndex, Math.max(0, m.roots.length - 1));
  for (const r of m.roots.filter((x) => !before.includes(x) || roots !== undefined)) await h.deliverReceipts(r);
  await h.loadListing();
}

export async function loadListing(h: StickHost): Promise<void> {
  const m = h.state.media;
  const root = h.root();
  delete m.listing;
  delete m.error;
  m.selected = 0;
  if (root === undefined) m.error = { code: 'MEDIA_NOT_FOUND', message: h.strings.engine.msgNoStick };
  else {
    m.loading = true;
    h.changed(true);
    try {
      m.listing = await h.engine.listUpdates(root);
      const ok = m.listing.updates.filter((u) => !problemOf(u, root, m.verdicts)).length;
      h.log(fmt(h.strings.engine.log_stickListed, { root, n: m.listing.updates.length, ok }));
      // Start on the update the engine would choose (what `ferry device apply` installs), else the first installable one.
      const chosen = m.listing.updates.findIndex((u) => u.id === m.listing!.chosenId && !problemOf(u, root, m.verdicts));
      m.selected = chosen >= 0 ? chosen : Math.max(0, m.listing.updates.findIndex((u) => !problemOf(u, root, m.verdicts)));
    } catch (e) {
      m.error = uiError(e, h.strings);
      h.log(failedLine(h.strings, fmt(h.strings.engine.log_stick, { root }), m.error));
    }
  }
  m.loading = false;
  h.changed(true);
}


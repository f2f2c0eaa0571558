/**
 * Sticks: finding them (polled), opening one, listing its updates, and delivering the
 * receipts that wait in the device as soon as a writable stick is in. A stick that is
 * pulled while another is present is never replaced silently: the other one opens only
 * after a key press (it may be an untrusted stick).
 */
import type { TuiEngine } from './engine-types.js';
import { uiError } from './flows.js';
import type { AppState, ScreenId } from './state.js';
import { problemOf } from './views/media.js';

/** What the stick logic needs from the controller. */
export interface StickHost {
  state: AppState;
  engine: TuiEngine;
  log(text: string): void;
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
    h.log(`stick removed: ${gone}`);
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
    h.log(`stick found: ${roots.join(', ')}`);
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
    if (d.written.length > 0) h.log(`receipts: ${d.written.length} written to ${root}: ${d.written.join(', ')}`);
    if (d.problem) h.log(`receipts: kept on the device (${d.problem})`);
  } catch (e) {
    const err = uiError(e);
    h.state.media.delivered = { root, written: [], problem: `[${err.code}] ${err.message}` };
    h.log(`receipts: FAILED [${err.code}] ${err.message}`);
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
  if (root === undefined) m.error = { code: 'MEDIA_NOT_FOUND', message: 'no mounted stick has a FERRY folder (looked in /run/media, /media, /mnt)' };
  else {
    m.loading = true;
    h.changed(true);
    try {
      m.listing = await h.engine.listUpdates(root);
      const ok = m.listing.updates.filter((u) => !problemOf(u, root, m.verdicts)).length;
      h.log(`stick ${root}: ${m.listing.updates.length} update(s), ${ok} installable`);
      // Start on the update the engine would choose (what `ferry device apply` installs), else the first installable one.
      const chosen = m.listing.updates.findIndex((u) => u.id === m.listing!.chosenId && !problemOf(u, root, m.verdicts));
      m.selected = chosen >= 0 ? chosen : Math.max(0, m.listing.updates.findIndex((u) => !problemOf(u, root, m.verdicts)));
    } catch (e) {
      m.error = uiError(e);
      h.log(`stick ${root}: FAILED [${m.error.code}] ${m.error.message}`);
    }
  }
  m.loading = false;
  h.changed(true);
}


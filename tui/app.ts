/**
 * The controller: keys in, engine calls out, state changed, repaint requested. No
 * blessed here, so the whole navigation can be driven by tests with plain key names
 * ("up", "enter", "tab", "escape", "q", "y", ...). The device's own state decides what
 * is offered: a running slot on trial opens on that fact, not on the stick.
 */
import { checkDrift } from './drift-view.js';
import { overlay } from './details.js';
import type { TuiEngine } from './engine-types.js';
import { failedLine, type FlowHost, runApply, runVerify, uiError } from './flows.js';
import { type MaintHost, maintKey, openMaint } from './maint.js';
import { type AppState, type Glyphs, initialState, type ScreenId } from './state.js';
import { fmt, type Strings, stringsFor } from './strings.js';
import { BACK, overlayKey, scrollKey } from './scroll.js';
import { deliverReceipts, loadListing, openMedia, pollMedia } from './sticks.js';
import { attentionText } from './views/device.js';
import { problemOf, verdictKey } from './views/media.js';

/** What the controller needs from main.ts. */
export interface AppDeps {
  engine: TuiEngine;
  /** Sticks currently mounted (or the one given with --media). */
  findMedia(): Promise<string[]>;
  glyphs: Glyphs;
  strings?: Strings;
  now?: () => number;
  /** Repaint soon; `urgent` for key feedback, otherwise at most ~10 per second. */
  changed(urgent: boolean): void;
  quit(): void;
}

/** The terminal UI's controller. */
export class App implements FlowHost, MaintHost {
  readonly state: AppState;
  readonly engine: TuiEngine;
  readonly strings: Strings;
  private verifyAbort: AbortController | undefined;
  private applyAbort: AbortController | undefined;
  /** The running apply, so shutdown can wait for it to leave the device consistent. */
  applying: Promise<boolean> | undefined;

  constructor(private readonly deps: AppDeps) {
    this.state = initialState(deps.glyphs);
    this.engine = deps.engine;
    this.strings = deps.strings ?? stringsFor('en');
  }

  now(): number {
    return (this.deps.now ?? Date.now)();
  }
  changed(urgent: boolean): void {
    this.deps.changed(urgent);
  }
  log(text: string): void {
    this.state.log.push({ at: new Date(this.now()).toISOString(), text });
    if (this.state.log.length > 1000) this.state.log.splice(0, this.state.log.length - 1000);
  }
  go(screen: ScreenId): void {
    this.state.screen = screen;
  }
  /** The stick in use, if any. */
  root(): string | undefined {
    return this.state.media.roots[this.state.media.rootIndex];
  }

  /** Load the device status and look for a stick; a running slot on trial keeps the device screen first. */
  async start(): Promise<void> {
    await this.refreshDevice();
    const roots = await this.deps.findMedia();
    if (roots.length === 0) return;
    if (this.state.device.info?.attention) {
      this.state.media.roots = roots;
      await this.deliverReceipts(roots[0]!);
      this.log(fmt(this.strings.engine.log_needsDecision, { what: attentionText(this.state.device.info, this.strings) }));
      return;
    }
    await this.openMedia(roots);
  }

  /** Called every few seconds by main.ts on the device or stick screen (see sticks.ts). */
  pollMedia(): Promise<void> {
    return pollMedia(this);
  }

  /** Write the receipts waiting in the device to a stick, and say what went there. */
  deliverReceipts(root: string): Promise<void> {
    return deliverReceipts(this, root);
  }

  /** Sticks mounted now. */
  findMedia(): Promise<string[]> {
    return this.deps.findMedia();
  }

  /** Re-read the device status. */
  async refreshDevice(): Promise<void> {
    this.state.device.loading = true;
    this.changed(true);
    try {
      this.state.device.info = await this.engine.status();
      delete this.state.device.error;
      void checkDrift(this.state, this.engine, () => this.changed(false), (e) => uiError(e, this.strings));
    } catch (e) {
      this.state.device.error = uiError(e, this.strings);
      this.log(failedLine(this.strings, this.strings.engine.log_status, this.state.device.error));
    }
    this.state.device.loading = false;
    this.changed(true);
  }

  /** Show screen 2 for the given sticks (rescanning when none are given). */
  openMedia(roots?: string[]): Promise<void> {
    return openMedia(this, roots);
  }

  loadListing(): Promise<void> {
    return loadListing(this);
  }

  /** Handle one key (blessed key name or character). */
  key(k: string): void {
    const st = this.state;
    const asking = st.screen === 'apply' && st.apply?.cancelAsked;
    if (k === 'l' && st.screen !== 'log' && st.screen !== 'detail' && !asking) {
      st.logReturn = st.screen;
      st.logScroll = 0;
      this.go('log');
    } else if ((k === '?' || k === 'd') && st.screen !== 'detail' && !asking && !(k === 'd' && st.screen === 'apply' && !st.apply?.error)) {
      st.overlay = overlay(k === '?' ? 'help' : 'detail', st, this.strings);
      this.go('detail');
    } else this.screenKey(k);
    this.changed(true);
  }

  private screenKey(k: string): void {
    const handlers: Record<ScreenId, (k: string) => void> = {
      device: (x) => this.deviceKey(x),
      media: (x) => this.mediaKey(x),
      verify: (x) => this.verifyKey(x),
      confirm: (x) => this.confirmKey(x),
      apply: (x) => this.applyKey(x),
      done: (x) => this.doneKey(x),
      maint: (x) => maintKey(this, x),
      log: (x) => scrollKey(this.state, x, () => this.go(this.state.logReturn)),
      receipts: (x) => scrollKey(this.state, x, () => this.go('device')),
      detail: (x) => overlayKey(this.state, x, (s) => this.go(s)),
    };
    handlers[this.state.screen](k);
  }

  private deviceKey(k: string): void {
    if (BACK.has(k)) this.deps.quit();
    else if (k === 'm' || k === 'enter') void this.openMedia();
    else if (k === 'r') void this.refreshDevice();
    else if (k === 'e') {
      this.state.logScroll = 0;
      this.go('receipts');
    } else if (k === 'g' && this.state.device.info?.attention) openMaint(this, 'markGood');
    else if (k === 'b' && this.state.device.info) openMaint(this, 'rollback');
  }

  private mediaKey(k: string): void {
    const m = this.state.media;
    const n = m.listing?.updates.length ?? 0;
    if (m.switchNotice) {
      if (k === 'enter') void this.openMedia(m.roots);
      else if (BACK.has(k)) this.go('device');
      return;
    }
    if (BACK.has(k)) this.go('device');
    else if (k === 'up' || k === 'k') m.selected = Math.max(0, m.selected - 1);
    else if (k === 'down' || k === 'j') m.selected = Math.min(Math.max(0, n - 1), m.selected + 1);
    else if (k === 'r') void this.openMedia();
    else if (k === 'n' && m.roots.length > 1) {
      m.rootIndex = (m.rootIndex + 1) % m.roots.length;
      void this.loadListing();
    } else if (k === 'enter' && !m.loading) {
      const u = m.listing?.updates[m.selected];
      if (u && !problemOf(u, this.root(), m.verdicts)) {
        this.verifyAbort = new AbortController();
        this.go('verify');
        void runVerify(this, this.root()!, u, this.verifyAbort.signal).then(() => this.keepVerdict());
      }
    }
  }

  /** A failed verification stays attached to its update for as long as that stick is in. */
  private keepVerdict(): void {
    const v = this.state.verify;
    const root = this.root();
    if (v?.phase === 'failed' && v.error && root !== undefined) this.state.media.verdicts[verdictKey(root, v.entry.id)] = v.error;
    if (v?.phase === 'ok' && v.meter) {
      const took = (v.meter.samples[v.meter.samples.length - 1]?.[0] ?? v.meter.startedAt) - v.meter.startedAt;
      if (took > 0) this.state.readRate = (v.meter.bytesTotal * 1000) / took;
    }
    this.changed(true);
  }

  private verifyKey(k: string): void {
    const v = this.state.verify!;
    const busy = v.phase === 'signature' || v.phase === 'blobs';
    if (BACK.has(k)) {
      if (busy) this.verifyAbort?.abort();
      this.go('media');
    } else if (k === 'enter' && v.phase === 'ok') void this.openConfirm();
  }

  private async openConfirm(): Promise<void> {
    const v = this.state.verify!;
    try {
      const plan = await this.engine.plan(this.root()!, v.entry.id);
      this.state.confirm = { plan, focus: 0 };
      this.go('confirm');
    } catch (e) {
      v.phase = 'failed';
      v.error = uiError(e, this.strings);
      this.log(failedLine(this.strings, fmt(this.strings.engine.log_plan, { id: v.entry.id }), v.error));
    }
    this.changed(true);
  }

  private confirmKey(k: string): void {
    const c = this.state.confirm!;
    if (BACK.has(k)) this.go('media');
    else if (k === 'tab' || k === 'left' || k === 'right' || k === 'S-tab') c.focus = c.focus === 0 ? 1 : 0;
    else if (k === 'y' || (k === 'enter' && c.focus === 1)) this.startApply();
    else if (k === 'enter') this.go('media');
  }

  private startApply(): void {
    this.state.apply = { plan: this.state.confirm!.plan, stages: [], switched: false, cancelAsked: false, cancelling: false, cancelled: false };
    this.applyAbort = new AbortController();
    this.go('apply');
    const a = this.state.apply;
    this.applying = runApply(this, this.root()!, this.applyAbort.signal).then((ok) => {
      if (ok) {
        // The cancel question (or a cancel already sent) lost the race with the bootloader switch: say so.
        if (a.cancelAsked || a.cancelling) {
          this.state.done!.lateCancel = true;
          this.log(this.strings.engine.log_lateCancel);
        }
        a.cancelAsked = false;
        this.go('done');
      }
      this.applying = undefined;
      this.changed(true);
      return ok;
    });
  }

  /** Ask the running apply to stop (SIGTERM, stick pulled); the engine leaves the device as before. */
  cancelApply(): void {
    const a = this.state.apply;
    if (this.applying && a && !a.switched && !a.cancelling) {
      a.cancelling = true;
      a.cancelAsked = false;
      this.log(this.strings.engine.log_cancelRequested);
      this.applyAbort?.abort();
      this.changed(true);
    }
  }

  private applyKey(k: string): void {
    const a = this.state.apply!;
    if (this.applying === undefined) {
      if (BACK.has(k) || k === 'enter') {
        this.go('device');
        void this.refreshDevice();
      }
    } else if (a.cancelAsked) {
      if (k === 'y') this.cancelApply();
      else if (k === 'n' || BACK.has(k)) a.cancelAsked = false;
    } else if ((k === 'c' || BACK.has(k)) && !a.switched && !a.cancelling) a.cancelAsked = true;
  }

  /** Run the reboot command; `mark` records the request and its result on the screen's state. */
  reboot(mark: (phase: 'asked' | 'sent' | undefined, err?: unknown) => void): void {
    mark('asked');
    this.log(this.strings.engine.log_rebootRequested);
    this.engine.reboot().then(
      () => {
        mark('sent');
        this.log(this.strings.engine.log_rebootRan);
        this.changed(true);
      },
      (e: unknown) => {
        mark(undefined, e);
        this.changed(true);
      },
    );
  }

  private doneKey(k: string): void {
    const d = this.state.done!;
    if (k === 'r' && !d.rebooting && !d.rebootSent) {
      this.reboot((phase, e) => {
        d.rebooting = phase === 'asked';
        d.rebootSent = phase === 'sent';
        if (e !== undefined) d.error = uiError(e, this.strings);
      });
    } else if ((k === 'enter' || BACK.has(k)) && !d.rebooting) {
      this.go('device');
      void this.refreshDevice();
    }
  }
}

/**
 * The controller: keys in, engine calls out, state changed, repaint requested. No
 * blessed here, so the whole navigation can be driven by tests with plain key names
 * ("up", "enter", "tab", "escape", "q", "y", ...).
 */
import type { TuiEngine } from './engine-types.js';
import { type FlowHost, runApply, runVerify, uiError } from './flows.js';
import { type AppState, type Glyphs, initialState, type ScreenId } from './state.js';

/** What the controller needs from main.ts. */
export interface AppDeps {
  engine: TuiEngine;
  /** Sticks currently mounted (or the one given with --media). */
  findMedia(): Promise<string[]>;
  glyphs: Glyphs;
  now?: () => number;
  /** Repaint soon; `urgent` for key feedback, otherwise at most ~10 per second. */
  changed(urgent: boolean): void;
  quit(): void;
}

/** Keys that back out of any screen. */
const BACK = new Set(['q', 'escape', 'C-c']);

/** The terminal UI's controller. */
export class App implements FlowHost {
  readonly state: AppState;
  readonly engine: TuiEngine;
  private verifyAbort: AbortController | undefined;
  private applyAbort: AbortController | undefined;
  /** The running apply, so shutdown can wait for it to leave the device consistent. */
  applying: Promise<boolean> | undefined;

  constructor(private readonly deps: AppDeps) {
    this.state = initialState(deps.glyphs);
    this.engine = deps.engine;
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

  /** Load the device status and look for a stick; opens the media screen when one is found. */
  async start(): Promise<void> {
    await this.refreshDevice();
    const roots = await this.deps.findMedia();
    if (roots.length > 0) await this.openMedia(roots);
  }

  /**
   * Called every few seconds by main.ts while the technician is on the device or stick
   * screen: a newly plugged stick opens by itself, a pulled one is shown as gone.
   */
  async pollMedia(): Promise<void> {
    const m = this.state.media;
    const screen = this.state.screen;
    if ((screen !== 'device' && screen !== 'media') || m.loading) return;
    const roots = await this.deps.findMedia();
    if (this.state.screen !== screen || m.loading || roots.join('\n') === m.roots.join('\n')) return;
    if (roots.length > 0) {
      this.log(`stick found: ${roots.join(', ')}`);
      await this.openMedia(roots);
    } else {
      this.log('stick removed');
      m.roots = [];
      if (screen === 'media') await this.loadListing();
    }
  }

  /** Re-read the device status. */
  async refreshDevice(): Promise<void> {
    this.state.device.loading = true;
    this.changed(true);
    try {
      this.state.device.info = await this.engine.status();
      delete this.state.device.error;
    } catch (e) {
      this.state.device.error = uiError(e);
      this.log(`device status: FAILED [${this.state.device.error.code}] ${this.state.device.error.message}`);
    }
    this.state.device.loading = false;
    this.changed(true);
  }

  /** Show screen 2 for the given sticks (rescanning when none are given). */
  async openMedia(roots?: string[]): Promise<void> {
    const m = this.state.media;
    this.go('media');
    m.loading = true;
    this.changed(true);
    m.roots = roots ?? (await this.deps.findMedia());
    m.rootIndex = Math.min(m.rootIndex, Math.max(0, m.roots.length - 1));
    await this.loadListing();
  }

  private async loadListing(): Promise<void> {
    const m = this.state.media;
    const root = m.roots[m.rootIndex];
    delete m.listing;
    delete m.error;
    m.selected = 0;
    if (root === undefined) m.error = { code: 'MEDIA_NOT_FOUND', message: 'no mounted stick has a FERRY folder (looked in /run/media, /media, /mnt)' };
    else {
      m.loading = true;
      this.changed(true);
      try {
        m.listing = await this.engine.listUpdates(root);
        const ok = m.listing.updates.filter((u) => !u.problem).length;
        this.log(`stick ${root}: ${m.listing.updates.length} update(s), ${ok} installable`);
        // Start on the first installable update: that is what the technician came for.
        m.selected = Math.max(0, m.listing.updates.findIndex((u) => !u.problem));
      } catch (e) {
        m.error = uiError(e);
        this.log(`stick ${root}: FAILED [${m.error.code}] ${m.error.message}`);
      }
    }
    m.loading = false;
    this.changed(true);
  }

  private go(screen: ScreenId): void {
    this.state.screen = screen;
  }

  /** Handle one key (blessed key name or character). */
  key(k: string): void {
    const st = this.state;
    if (k === 'l' && st.screen !== 'log' && !(st.screen === 'apply' && st.apply?.cancelAsked)) {
      st.logReturn = st.screen;
      st.logScroll = 0;
      this.go('log');
      this.changed(true);
      return;
    }
    const handlers: Record<ScreenId, (k: string) => void> = {
      device: (x) => this.deviceKey(x),
      media: (x) => this.mediaKey(x),
      verify: (x) => this.verifyKey(x),
      confirm: (x) => this.confirmKey(x),
      apply: (x) => this.applyKey(x),
      done: (x) => this.doneKey(x),
      maint: (x) => this.maintKey(x),
      log: (x) => this.logKey(x),
    };
    handlers[st.screen](k);
    this.changed(true);
  }

  private deviceKey(k: string): void {
    if (BACK.has(k)) this.deps.quit();
    else if (k === 'm' || k === 'enter') void this.openMedia();
    else if (k === 'r') void this.refreshDevice();
    else if (k === 'g' || k === 'b') {
      this.state.maint = { action: k === 'g' ? 'markGood' : 'rollback', focus: 0, busy: false };
      this.go('maint');
    }
  }

  private mediaKey(k: string): void {
    const m = this.state.media;
    const n = m.listing?.updates.length ?? 0;
    if (BACK.has(k)) this.go('device');
    else if (k === 'up' || k === 'k') m.selected = Math.max(0, m.selected - 1);
    else if (k === 'down' || k === 'j') m.selected = Math.min(Math.max(0, n - 1), m.selected + 1);
    else if (k === 'r') void this.openMedia();
    else if (k === 'n' && m.roots.length > 1) {
      m.rootIndex = (m.rootIndex + 1) % m.roots.length;
      void this.loadListing();
    } else if (k === 'enter' && !m.loading) {
      const u = m.listing?.updates[m.selected];
      if (u && !u.problem) {
        this.verifyAbort = new AbortController();
        this.go('verify');
        void runVerify(this, m.roots[m.rootIndex]!, u, this.verifyAbort.signal);
      }
    }
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
    const m = this.state.media;
    try {
      const plan = await this.engine.plan(m.roots[m.rootIndex]!, v.entry.id);
      this.state.confirm = { plan, focus: 0 };
      this.go('confirm');
    } catch (e) {
      v.phase = 'failed';
      v.error = uiError(e);
      this.log(`plan ${v.entry.id}: FAILED [${v.error.code}] ${v.error.message}`);
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
    const m = this.state.media;
    this.state.apply = { plan: this.state.confirm!.plan, stages: [], switched: false, cancelAsked: false, cancelling: false, cancelled: false };
    this.applyAbort = new AbortController();
    this.go('apply');
    this.applying = runApply(this, m.roots[m.rootIndex]!, this.applyAbort.signal).then((ok) => {
      if (ok) this.go('done');
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
      this.log('apply: cancel requested');
      this.applyAbort?.abort();
      this.changed(true);
    }
  }

  private applyKey(k: string): void {
    const a = this.state.apply!;
    const finished = this.applying === undefined;
    if (finished) {
      if (BACK.has(k) || k === 'enter') {
        this.go('device');
        void this.refreshDevice();
      }
    } else if (a.cancelAsked) {
      if (k === 'y') {
        this.cancelApply();
      } else if (k === 'n' || BACK.has(k)) a.cancelAsked = false;
    } else if ((k === 'c' || BACK.has(k)) && !a.switched && !a.cancelling) a.cancelAsked = true;
  }

  private doneKey(k: string): void {
    const d = this.state.done!;
    if (k === 'r' && !d.rebooting) {
      d.rebooting = true;
      this.log('reboot requested');
      this.engine.reboot().catch((e: unknown) => {
        d.rebooting = false;
        d.error = uiError(e);
        this.changed(true);
      });
    } else if (k === 'enter' || BACK.has(k)) {
      this.go('device');
      void this.refreshDevice();
    }
  }

  private maintKey(k: string): void {
    const m = this.state.maint!;
    if (m.busy) return;
    if (m.result !== undefined || m.error !== undefined) {
      if (BACK.has(k) || k === 'enter') {
        this.go('device');
        void this.refreshDevice();
      }
    } else if (BACK.has(k)) this.go('device');
    else if (k === 'tab' || k === 'left' || k === 'right') m.focus = m.focus === 0 ? 1 : 0;
    else if (k === 'y' || (k === 'enter' && m.focus === 1)) void this.runMaint();
    else if (k === 'enter') this.go('device');
  }

  private async runMaint(): Promise<void> {
    const m = this.state.maint!;
    m.busy = true;
    this.changed(true);
    try {
      const root = this.state.media.roots[this.state.media.rootIndex];
      m.result = (await (m.action === 'rollback' ? this.engine.rollback(root) : this.engine.markGood(root))).message;
      this.log(`${m.action}: ${m.result}`);
    } catch (e) {
      m.error = uiError(e);
      this.log(`${m.action}: FAILED [${m.error.code}] ${m.error.message}`);
    }
    m.busy = false;
    this.changed(true);
  }

  private logKey(k: string): void {
    const st = this.state;
    if (BACK.has(k)) this.go(st.logReturn);
    else if (k === 'up' || k === 'k') st.logScroll = Math.min(Math.max(0, st.log.length - 1), st.logScroll + 1);
    else if (k === 'down' || k === 'j') st.logScroll = Math.max(0, st.logScroll - 1);
  }
}

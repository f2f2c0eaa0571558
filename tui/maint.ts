/**
 * Screen 7's controller: keep (mark good) the running version or go back to the
 * previous one, offering only what the engine allows. Keeping a version whose health
 * check failed takes a deliberate second confirmation, as `--force` does on the CLI.
 */
import type { DeviceInfo, TuiEngine } from './engine-types.js';
import { failedLine, uiError } from './flows.js';
import { BACK } from './scroll.js';
import type { AppState, MaintState, ScreenId } from './state.js';
import { fmt, type Strings } from './strings.js';
import { maintResultText } from './views/maint.js';

/** What the maintenance screen needs from the controller. */
export interface MaintHost {
  state: AppState;
  engine: TuiEngine;
  /** The catalogue of the chosen language. */
  readonly strings: Strings;
  log(text: string): void;
  changed(urgent: boolean): void;
  go(screen: ScreenId): void;
  root(): string | undefined;
  refreshDevice(): Promise<void>;
  reboot(mark: (phase: 'asked' | 'sent' | undefined, err?: unknown) => void): void;
}

/** Open screen 7 for `action`, with the device as it is now (the question must not change under the answer). */
export function openMaint(h: MaintHost, action: MaintState['action']): void {
  h.state.maint = { action, focus: 0, busy: false, ...(h.state.device.info ? { info: h.state.device.info } : {}) };
  h.go('maint');
}


/** Keys on screen 7. */
export function maintKey(h: MaintHost, k: string): void {
  const m = h.state.maint!;
  if (m.busy || m.rebooting === 'asked') return;
  if (m.result !== undefined || m.error !== undefined) {
    if (k === 'r' && m.result !== undefined && m.action === 'rollback' && !m.rebooting) {
      h.reboot((phase, e) => {
        if (phase) m.rebooting = phase;
        else delete m.rebooting;
        if (e !== undefined) m.error = uiError(e, h.strings);
      });
    } else if (BACK.has(k) || k === 'enter') {
      h.go('device');
      void h.refreshDevice();
    }
    return;
  }
  const info: DeviceInfo | undefined = m.info;
  const can = m.action === 'markGood' || info?.rollback.ok === true;
  if (BACK.has(k) || (!can && k === 'enter')) h.go('device');
  else if (!can) return;
  else if (k === 'tab' || k === 'left' || k === 'right') m.focus = m.focus === 0 ? 1 : 0;
  else if (k === 'y' || (k === 'enter' && m.focus === 1)) {
    if (m.action === 'markGood' && info?.markGood.failedCheck && !m.second) {
      // The first yes only opens the deliberate second question; focus goes back to "Back".
      m.second = true;
      m.focus = 0;
      h.log(h.strings.ui.logSecondAsk);
    } else void runMaint(h);
  } else if (k === 'enter') h.go('device');
}

async function runMaint(h: MaintHost): Promise<void> {
  const m = h.state.maint!;
  const subject = m.action === 'rollback' ? h.strings.ui.logGoBack : h.strings.ui.logKeep;
  m.busy = true;
  h.changed(true);
  try {
    const root = h.root();
    m.result = m.action === 'rollback' ? await h.engine.rollback(root) : await h.engine.markGood(root, m.second === true);
    h.log(fmt(h.strings.engine.log_maintDone, { action: subject, result: maintResultText(m.result, h.strings) }));
  } catch (e) {
    m.error = uiError(e, h.strings);
    h.log(failedLine(h.strings, subject, m.error));
  }
  m.busy = false;
  h.changed(true);
}

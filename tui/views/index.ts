/** Which view-model draws which screen. */
import type { Frame, Size } from '../frame.js';
import type { AppState, ScreenId } from '../state.js';
import type { Strings } from '../strings.js';
import { deviceFrame } from './device.js';
import { mediaFrame } from './media.js';
import { applyFrame, verifyFrame } from './progress.js';
import { confirmFrame, doneFrame, logFrame, maintFrame } from './screens.js';

const VIEWS: Record<ScreenId, (st: AppState, s: Strings, size: Size) => Frame> = {
  device: deviceFrame,
  media: mediaFrame,
  verify: verifyFrame,
  confirm: confirmFrame,
  apply: applyFrame,
  done: doneFrame,
  maint: maintFrame,
  log: logFrame,
};

/** The frame for the current screen (pure). */
export function frameFor(st: AppState, s: Strings, size: Size): Frame {
  return VIEWS[st.screen](st, s, size);
}

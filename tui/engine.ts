/**
 * The engine adapter: the TuiEngine calls mapped onto the same library functions that
 * `ferry device …` uses. (Wired to src/device once its shell lands.)
 */
import { FerryError } from '../src/errors.js';
import type { TuiEngine } from './engine-types.js';

/** Options from the command line. */
export interface EngineOptions {
  configFile: string | undefined;
  rebootCommand: string;
}

/** The real engine for ferry-tui. */
export function createEngine(_opts: EngineOptions): TuiEngine {
  const missing = async (): Promise<never> => {
    throw new FerryError('INTERNAL', 'the device engine is not wired yet');
  };
  return { status: missing, listUpdates: missing, verifySignature: missing, verifyBlobs: missing, plan: missing, apply: missing, markGood: missing, rollback: missing, reboot: missing };
}

/** The kiosk build handed over by global-setup.ts (its folder), read back in a test file. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KioskBuild } from './kiosk.js';

/** Read DIR/layout.env of a built kiosk. */
export function readBuild(dir: string): KioskBuild {
  const layout: Record<string, number> = {};
  for (const line of fs.readFileSync(path.join(dir, 'layout.env'), 'utf8').split('\n')) {
    const m = /^(\w+)=(\d+)$/.exec(line);
    if (m) layout[m[1]!] = Number(m[2]);
  }
  const flavour = fs.readFileSync(path.join(dir, 'flavour'), 'utf8').trim() === 'uefi' ? 'uefi' : 'bios';
  return { dir, flavour, layout: layout as KioskBuild['layout'] };
}

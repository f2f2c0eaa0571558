import { describe, expect, it } from 'vitest';
import { parseAutoSettings, parseWindow, windowStatus } from '../../src/device/auto-config.js';
import { compareVersions } from '../../src/device/auto.js';

/** A local time today (the window is in local time, whatever TZ the test runs in). */
const at = (h: number, m: number, s = 0) => new Date(2026, 11, 1, h, m, s);

describe('parseAutoSettings', () => {
  it('defaults to the TUI and manual reboot, and lists every bad field', () => {
    expect(parseAutoSettings({}, [])).toEqual({ onInsert: 'tui', reboot: 'manual' });
    const bad: string[] = [];
    parseAutoSettings({ onInsert: 'yes', reboot: true, window: '25:00-03:00' }, bad);
    expect(bad).toEqual([expect.stringContaining('"onInsert"'), expect.stringContaining('"reboot"'), expect.stringContaining('"window"')]);
  });

  it('parses HH:MM and HH:MM:SS windows and refuses an empty one', () => {
    expect(parseWindow('02:00-04:00')).toEqual({ text: '02:00-04:00', start: 7200, end: 14400 });
    expect(parseWindow('23:30:15-01:00')).toEqual({ text: '23:30:15-01:00', start: 84615, end: 3600 });
    for (const w of ['02:00-02:00', '2:00-04:00', '02:00', '02:00-04:00-05:00', '02:60-03:00']) expect(parseWindow(w)).toBeUndefined();
  });
});

describe('windowStatus', () => {
  it('is open inside the window, closed at its end, and says when it opens next', () => {
    const w = parseWindow('02:00-04:00')!;
    expect(windowStatus(w, at(3, 59, 59)).open).toBe(true);
    expect(windowStatus(w, at(4, 0))).toEqual({ open: false, opensAt: new Date(2026, 11, 2, 2, 0, 0) });
    expect(windowStatus(w, at(1, 0))).toEqual({ open: false, opensAt: at(2, 0) });
    expect(windowStatus(undefined, at(12, 0))).toEqual({ open: true, opensAt: at(12, 0) });
  });

  it('wraps midnight', () => {
    const w = parseWindow('22:00-02:00')!;
    expect(windowStatus(w, at(23, 0)).open).toBe(true);
    expect(windowStatus(w, at(1, 30)).open).toBe(true);
    expect(windowStatus(w, at(12, 0))).toEqual({ open: false, opensAt: at(22, 0) });
  });
});

describe('compareVersions', () => {
  it('orders numerically, part by part', () => {
    expect(compareVersions('1.10.0', '1.9.2')).toBeGreaterThan(0);
    expect(compareVersions('2.0', '2.0.0')).toBe(0);
    expect(compareVersions('1.0.0', '1.0.1')).toBeLessThan(0);
  });
});

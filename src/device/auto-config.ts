/**
 * The device config's hands-free settings (pure): what a stick insertion starts
 * (`"onInsert": "tui" | "auto"`, default "tui"), the maintenance window in local time
 * (`"window": "02:00-04:00"`, may wrap midnight; seconds allowed, `"02:00:30-02:10"`), and
 * whether an unattended install reboots by itself (`"reboot": "auto" | "manual"`, default "manual").
 */

/** What a stick insertion starts. */
export type OnInsert = 'tui' | 'auto';

/** A daily window, as seconds after local midnight; `end` may be below `start` (wraps midnight). */
export interface MaintenanceWindow {
  text: string;
  start: number;
  end: number;
}

/** The hands-free settings, defaults filled in. */
export interface AutoSettings {
  onInsert: OnInsert;
  window?: MaintenanceWindow;
  reboot: 'auto' | 'manual';
}

/** The config keys these settings use (the config loader accepts them). */
export const AUTO_KEYS = ['onInsert', 'window', 'reboot'] as const;

function clockSeconds(t: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(t);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0) : undefined;
}

/** Parse "HH:MM[:SS]-HH:MM[:SS]" (undefined when malformed or empty). */
export function parseWindow(text: string): MaintenanceWindow | undefined {
  const [a, b, ...rest] = text.split('-');
  if (a === undefined || b === undefined || rest.length > 0) return undefined;
  const start = clockSeconds(a.trim());
  const end = clockSeconds(b.trim());
  if (start === undefined || end === undefined || start === end) return undefined;
  return { text, start, end };
}

/** Parse the hands-free settings from a raw config object, adding problems to `bad`. */
export function parseAutoSettings(v: Record<string, unknown>, bad: string[]): AutoSettings {
  const s: AutoSettings = { onInsert: 'tui', reboot: 'manual' };
  if (v.onInsert !== undefined) {
    if (v.onInsert === 'tui' || v.onInsert === 'auto') s.onInsert = v.onInsert;
    else bad.push('"onInsert" must be "tui" or "auto"');
  }
  if (v.reboot !== undefined) {
    if (v.reboot === 'auto' || v.reboot === 'manual') s.reboot = v.reboot;
    else bad.push('"reboot" must be "auto" or "manual"');
  }
  if (v.window !== undefined) {
    const w = typeof v.window === 'string' ? parseWindow(v.window) : undefined;
    if (w) s.window = w;
    else bad.push('"window" must be "HH:MM-HH:MM" in local time (e.g. "02:00-04:00"; start and end differ)');
  }
  return s;
}

/** Whether `now` (local time) is inside the window, and when it next opens (now when open or no window). */
export function windowStatus(w: MaintenanceWindow | undefined, now: Date): { open: boolean; opensAt: Date } {
  if (!w) return { open: true, opensAt: now };
  const t = now.getHours() * 3600 + now.getMinutes() * 60 + now.getSeconds();
  const open = w.start < w.end ? t >= w.start && t < w.end : t >= w.start || t < w.end;
  if (open) return { open, opensAt: now };
  const opens = new Date(now);
  opens.setHours(Math.floor(w.start / 3600), Math.floor((w.start % 3600) / 60), w.start % 60, 0);
  if (opens.getTime() <= now.getTime()) opens.setDate(opens.getDate() + 1);
  return { open, opensAt: opens };
}

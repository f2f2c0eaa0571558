/**
 * Issue 10, "what a technician needs to see" and "readable to the last character", screen
 * by screen on the view-models: the stick's facts, the slot's room and a time estimate
 * before confirming, what happens after apply, a warning whenever the running slot is
 * pending or bad, versions instead of counters, and the detail view with the whole text.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../tui/engine-types.js';
import { detailLines, overlay } from '../../tui/details.js';
import { type AppState, initialState, UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { DEVICE, LISTING, PENDING_DEVICE } from './fake-engine.js';

const S = stringsFor('en');
const NOTES = Array.from({ length: 30 }, (_, i) => `note line ${i + 1}`).join('\n');
const PLAN = { id: 'kiosk-1.1.0', fromVersion: '1.0.0', toVersion: '1.1.0', targetSlot: 'B' as const, slotDescribe: 'dir /var/lib/slots/b', bytesToWrite: 12_582_912, neededBytes: 20_000_000, availableBytes: 900_000_000, notes: NOTES, signers: ['ferry signer'] };
const STICK = { label: 'FERRY', device: '/dev/sdb1', fsType: 'exfat', sizeBytes: 16_000_000_000, freeBytes: 9_000_000_000, readOnly: false };

function state(info: DeviceInfo = DEVICE): AppState {
  const st = initialState(UNICODE_GLYPHS);
  st.device = { info, loading: false };
  st.media = { roots: ['/run/media/tech/STICK'], rootIndex: 0, listing: { ...LISTING, root: '/run/media/tech/STICK', stick: STICK }, loading: false, selected: 1, verdicts: {} };
  return st;
}

function text(st: AppState, width = 80, height = 21): string {
  const f = frameFor(st, S, { width, height });
  return [f.title, ...f.lines.map((l) => l.text), f.keys, f.status?.text ?? ''].join('\n');
}
const flat = (t: string) => t.replace(/\s+/g, ' ');

describe('what a technician needs to see', () => {
  it('the stick: label, device, file system, size, free space, and whether it is read-only', () => {
    const st = state();
    st.screen = 'media';
    for (const [w, h] of [[80, 21], [60, 17]] as const) {
      const t = flat(text(st, w, h));
      expect(t).toContain('FERRY, /dev/sdb1, exfat, 14.9 GiB, 8.38 GiB free, writable');
    }
    st.media.listing!.stick = { ...STICK, readOnly: true };
    expect(flat(text(st))).toContain('read-only: receipts wait on the device');
  });

  it('before confirming: the slot\'s free space and need, the bytes to write, a time estimate from the measured read rate, all release notes on d', () => {
    const st = state();
    Object.assign(st, { screen: 'confirm', confirm: { plan: PLAN, focus: 0 }, readRate: 25_000_000 });
    const t = flat(text(st));
    expect(t).toContain('Slot room 858 MiB free, needs 19.1 MiB');
    expect(t).toContain('Write 12.0 MiB, about 1s at 25.0 MB/s (read while verifying)');
    expect(t).toContain('[ Install ]');
    // The screen shows the first notes; d shows all 30, and they scroll.
    const o = overlay('detail', st, S);
    expect(o.lines.filter((l) => l.startsWith('note line'))).toHaveLength(30);
    Object.assign(st, { screen: 'detail', overlay: o });
    o.scroll = 25;
    expect(text(st)).toContain('note line 30');
  });

  it('after apply: what happens next in words, and what to do with the stick', () => {
    const st = state();
    Object.assign(st, { screen: 'done', done: { outcome: { slot: 'B', version: '1.1.0', attempts: 3, receiptPath: '/run/media/tech/STICK/FERRY/receipts/kiosk-0042/20261122T010000.000Z-apply.json' }, rebooting: false } });
    let t = flat(text(st));
    expect(t).toContain('Next: reboot. 1.1.0 gets 3 tries to start; the boot check commits it. If it does not pass, the device goes back by itself.');
    expect(t).toContain('You can remove the stick now.');
    // The receipt path is never cut: it wraps.
    expect(t.replace(/ /g, '')).toContain('/run/media/tech/STICK/FERRY/receipts/kiosk-0042/20261122T010000.000Z-apply.json');
    st.done!.outcome = { slot: 'B', version: '1.1.0', attempts: 3, receiptWait: { kept: 1, code: 'READ_ONLY_MEDIA', detail: 'EROFS: read-only file system, open \'/x\'' } };
    t = flat(text(st));
    expect(t).toContain('not on the stick: the stick is read-only');
    expect(t).toContain('keep a writable stick in to receive it');
    expect(detailLines(st, S).join('\n')).toContain('EROFS: read-only file system, open \'/x\'');
  });

  it('a warning on the Device screen whenever the running slot is pending or bad, with the two choices', () => {
    const pending = flat(text(Object.assign(state(PENDING_DEVICE), { screen: 'device' })));
    expect(pending).toContain('! Version 1.1.0 (slot B) is on trial, not committed.');
    expect(pending).toContain('g keep this version (commit it)');
    expect(pending).toContain('b go back to 1.0.0');
    const bad: DeviceInfo = {
      ...PENDING_DEVICE,
      slots: PENDING_DEVICE.slots.map((s) => (s.booted ? { ...s, status: 'bad' as const, lastError: { code: 'SLOT_BUSY', message: 'marked bad by hand' } } : s)),
    };
    const t = flat(text(Object.assign(state(bad), { screen: 'device' })));
    expect(t).toContain('! Version 1.1.0 (slot B) is running but marked bad.');
    expect(t).toContain('[SLOT_BUSY] marked bad by hand');
    expect(flat(text(Object.assign(state(), { screen: 'device' })))).not.toContain('! ');
  });

  it('versions, never the raw counter, on every screen and in every detail view', () => {
    for (const screen of ['device', 'media', 'confirm'] as const) {
      const st = Object.assign(state(PENDING_DEVICE), { screen, confirm: { plan: PLAN, focus: 0 } });
      const all = text(st) + '\n' + detailLines(st, S).join('\n');
      expect(all, screen).not.toMatch(/counter|\b110\b|\b100\b/i);
    }
    expect(flat(text(Object.assign(state(), { screen: 'device' })))).toContain('Floor versions older than 1.0.0 are refused');
  });

  it('the Status column stays at 60x20', () => {
    const st = state();
    st.screen = 'media';
    const rows = text(st, 60, 17).split('\n');
    expect(rows.find((r) => r.includes('kiosk-0.9.0'))).toMatch(/✗ older release$/);
    expect(rows.find((r) => r.includes('kiosk-1.1.0'))).toMatch(/✓ ready$/);
  });
});

describe('readable to the last character', () => {
  it('the detail view shows the whole error and the whole health-check output', () => {
    const long = 'health check failed: exited 7: ' + 'x'.repeat(300) + ' END';
    const info: DeviceInfo = { ...PENDING_DEVICE, markGood: { failedCheck: { message: long, at: '2026-11-22T01:00:00Z' }, floor: true, floorVersion: '1.1.0' } };
    const st: AppState = Object.assign(state(info), { screen: 'device' as const });
    expect(detailLines(st, S).join('\n')).toContain(long);
    st.media.verdicts['/run/media/tech/STICK\nkiosk-1.1.0'] = { code: 'DIGEST_MISMATCH', message: 'blob sha256:ab… ' + 'y'.repeat(200) + ' (expected sha256:cd) END' };
    st.screen = 'media';
    expect(detailLines(st, S).join('\n')).toContain('(expected sha256:cd) END');
  });
});

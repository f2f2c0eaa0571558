import { describe, expect, it } from 'vitest';
import { finishMeter, startMeter, updateMeter } from '../../tui/meter.js';
import { ASCII_GLYPHS, type AppState, initialState, UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { shortReason } from '../../tui/views/media.js';
import { DEVICE, LISTING } from './fake-engine.js';

const S = stringsFor('en');
const BODY = { width: 80, height: 21 }; // 80x24 minus title, status and key bars

function render(st: AppState, size = BODY): string[] {
  const f = frameFor(st, S, size);
  return [...f.lines.map((l) => l.text), f.keys, f.status?.text ?? ''];
}

function loaded(): AppState {
  const st = initialState(UNICODE_GLYPHS);
  st.device = { info: DEVICE, loading: false };
  st.media = { roots: ['/run/media/tech/STICK'], rootIndex: 0, listing: LISTING, loading: false, selected: 1, verdicts: {} };
  return st;
}

function everyScreen(): AppState[] {
  const plan = { id: 'kiosk-1.1.0', fromVersion: '1.0.0', toVersion: '1.1.0', targetSlot: 'B' as const, slotDescribe: 'dir /var/lib/slots/b', bytesToWrite: 12_582_912, notes: 'Fixes the printer queue. '.repeat(60), signers: ['ferry signer'] };
  const meter = updateMeter(startMeter(0, 12_582_912), 2000, 6_000_000);
  const screens: AppState[] = [];
  const add = (f: (s: AppState) => void) => {
    const s = loaded();
    f(s);
    screens.push(s);
  };
  add((s) => (s.screen = 'device'));
  add((s) => (s.screen = 'media'));
  add((s) => Object.assign(s, { screen: 'verify', verify: { entry: LISTING.updates[1], phase: 'blobs', signature: { signers: ['ferry signer'], chain: ['ferry signer', 'ferry root'] }, meter, detail: 'layer sha256:0123456789abcdef' } }));
  add((s) => Object.assign(s, { screen: 'confirm', confirm: { plan, focus: 1 } }));
  add((s) => Object.assign(s, { screen: 'apply', apply: { plan, stages: [{ step: 'check', state: 'done' }, { step: 'write', state: 'running' }, { step: 'sync', state: 'waiting' }, { step: 'bootloader', state: 'waiting' }], meter, switched: false, cancelAsked: false, cancelling: false, cancelled: false } }));
  add((s) => Object.assign(s, { screen: 'done', done: { outcome: { slot: 'B', version: '1.1.0', receiptWait: { kept: 1, code: 'READ_ONLY_MEDIA' } }, rebooting: false } }));
  add((s) => Object.assign(s, { screen: 'maint', maint: { action: 'rollback', focus: 0, busy: false } }));
  add((s) => Object.assign(s, { screen: 'log', log: Array.from({ length: 50 }, (_, i) => ({ at: '2026-11-22T01:00:00.000Z', text: `entry ${i} `.repeat(20) })) }));
  return screens;
}

describe('view-models at 80x24', () => {
  it('keep every line of every screen within 80 columns and the body within 21 rows where it matters', () => {
    for (const st of everyScreen()) {
      const f = frameFor(st, S, BODY);
      for (const l of [...f.lines, { text: f.keys }]) expect(Array.from(l.text).length, `${st.screen}: ${l.text}`).toBeLessThanOrEqual(80);
      if (st.screen !== 'log') expect(f.lines.length, st.screen).toBeLessThanOrEqual(21);
    }
  });

  it('keep the Install button on the confirm screen even with very long release notes', () => {
    const st = everyScreen().find((s) => s.screen === 'confirm')!;
    const lines = render(st);
    expect(lines.some((l) => l.includes('>[ Install ]<'))).toBe(true);
    expect(lines.some((l) => /^New +1\.1\.0 +→ slot B/.test(l))).toBe(true);
  });

  it('list every update with a tick or the short reason it cannot be installed', () => {
    const lines = render(loaded().media ? Object.assign(loaded(), { screen: 'media' }) : loaded());
    expect(lines.find((l) => l.includes('kiosk-0.9.0'))).toContain('✗ older release');
    expect(lines.find((l) => l.includes('kiosk-1.1.0'))).toContain('✓ ready');
    expect(lines.find((l) => l.includes('tablet-3.0.0'))).toContain('✗ incompatible');
    expect(shortReason('DIGEST_MISMATCH', S)).toBe('damaged');
    expect(shortReason('MANIFEST_EXPIRED', S)).toBe('expired');
    expect(shortReason('UNTRUSTED_SIGNER', S)).toBe('untrusted');
  });

  it('show the device: booted slot, both slots, clock against trusted time, receipts', () => {
    const lines = render(loaded());
    expect(lines.join('\n')).toMatch(/Running\s+slot A, version 1\.0\.0 \(good\)/);
    expect(lines.join('\n')).not.toMatch(/counter|100/);
    expect(lines.some((l) => l.startsWith('B ') && l.includes('empty'))).toBe(true);
    expect(lines.some((l) => l.includes('not behind the trusted time'))).toBe(true);
    expect(lines.some((l) => l.includes('1 waiting for a writable stick'))).toBe(true);
  });

  it('never show 100% before the meter is finished, even with every byte counted', () => {
    const st = everyScreen().find((s) => s.screen === 'verify')!;
    st.verify!.meter = updateMeter(st.verify!.meter!, 3000, 12_582_912);
    expect(render(st).join('\n')).toContain(' 99%');
    st.verify!.meter = finishMeter(st.verify!.meter!, 3100);
    st.verify!.phase = 'ok';
    expect(render(st).join('\n')).toContain('100%');
  });

  it('fall back to ASCII marks for terminals without UTF-8', () => {
    const st = loaded();
    st.glyphs = ASCII_GLYPHS;
    st.screen = 'media';
    const out = render(st).join('\n');
    expect(out).not.toMatch(/[^\x00-\x7f]/);
    expect(out).toContain('Up/Dn choose');
  });

  it('escape control characters in text from the stick', () => {
    const st = loaded();
    st.screen = 'media';
    st.media.listing = { root: '/x', updates: [{ ...LISTING.updates[1]!, version: '1.1.0\u001b[2J', notes: 'a\u0007b' }] };
    st.media.selected = 0;
    expect(render(st).join('\n')).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });
});

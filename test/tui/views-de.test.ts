import { describe, expect, it } from 'vitest';
import { detailLines } from '../../tui/details.js';
import { startMeter, updateMeter } from '../../tui/meter.js';
import { ASCII_GLYPHS, type AppState, initialState, UNICODE_GLYPHS } from '../../tui/state.js';
import { UI_DE } from '../../tui/strings-de.js';
import { ENGINE_DE } from '../../tui/strings-de-engine.js';
import { ENGINE_EN, stringsFor, UI_EN } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { DEVICE, LISTING } from './fake-engine.js';

const DE = stringsFor('de');
const ENGINE = '<engine text>';

/** The main screens (and the detail view of each) as `--lang de` renders them at 80x24. */
function germanScreens(): string[] {
  const plan = { id: 'kiosk-1.1.0', fromVersion: '1.0.0', toVersion: '1.1.0', targetSlot: 'B' as const, slotDescribe: 'dir /var/lib/slots/b', bytesToWrite: 12_582_912, notes: 'Fixes the printer queue.', signers: ['ferry signer'] };
  const meter = updateMeter(startMeter(0, 12_582_912), 2000, 6_000_000);
  const stages = [{ step: 'verify', state: 'done' }, { step: 'write', state: 'running' }, { step: 'sync', state: 'waiting' }, { step: 'bootloader', state: 'waiting' }, { step: 'receipt', state: 'failed' }];
  const patches: Array<(s: AppState) => void> = [
    (s) => (s.screen = 'device'),
    (s) => (s.screen = 'media'),
    (s) => Object.assign(s, { screen: 'verify', verify: { entry: LISTING.updates[1], phase: 'blobs', signature: { signers: ['ferry signer'], chain: ['ferry signer', 'ferry root'] }, meter } }),
    (s) => Object.assign(s, { screen: 'confirm', confirm: { plan, focus: 1 } }),
    (s) => Object.assign(s, { screen: 'apply', apply: { plan, stages, meter, meterStage: 'write', switched: false, cancelAsked: false, cancelling: false, cancelled: false } }),
    (s) => Object.assign(s, { screen: 'done', done: { outcome: { slot: 'B', version: '1.1.0', receiptWait: { kept: 1, detail: ENGINE } }, rebooting: false } }),
    (s) => Object.assign(s, { screen: 'maint', maint: { action: 'rollback', focus: 0, busy: false } }),
    (s) => Object.assign(s, { screen: 'maint', maint: { action: 'markGood', focus: 0, busy: false, result: { action: 'mark-good', slot: 'B', version: '1.1.0', floor: true, floorVersion: '1.1.0', message: ENGINE, receiptWait: { kept: 2, code: 'READ_ONLY_MEDIA', detail: ENGINE } } } }),
    (s) => Object.assign(s, { screen: 'maint', maint: { action: 'rollback', focus: 0, busy: false, result: { action: 'rollback', slot: 'A', version: '1.0.0', from: { slot: 'B', version: '1.1.0' }, message: ENGINE } } }),
    (s) => {
      s.screen = 'log';
      s.device.info!.history = [
        { at: '2026-11-20T10:00:00Z', action: 'apply', result: 'success', ok: true, version: '1.1.0', message: ENGINE },
        { at: '2026-11-20T10:05:00Z', action: 'boot-check', result: 'rolled-back', ok: false, version: '1.1.0', code: 'HEALTH_CHECK_FAILED', message: ENGINE },
        { at: '2026-11-20T10:09:00Z', action: 'mark-good', result: 'nothing-to-do', ok: true },
      ];
    },
    (s) => Object.assign(s, { screen: 'media', media: { ...s.media, delivered: { root: '/run/media/tech/STICK', written: [], problem: { kept: 1, code: 'READ_ONLY_MEDIA' } } } }),
  ];
  return patches.map((p) => {
    const st = initialState(UNICODE_GLYPHS);
    // The engine's own reasons (rollback.reason, refusal messages) are engine text, not catalogue text: mark them so they do not count.
    st.device = { info: { ...DEVICE, rollback: { ok: false as const, reason: ENGINE, why: { key: 'rollbackEmpty' as const, vars: { slot: 'B' } } } }, loading: false };
    // A reason the engine gave as data is said in German; a refusal without one keeps the engine's text (marked so it does not count).
    const updates = LISTING.updates.map((u, i) => (u.problem ? { ...u, problem: { ...u.problem, message: ENGINE, ...(i === 0 ? { why: { key: 'olderThanFloor' as const, vars: { v: '0.9.0', had: '1.0.0' } } } : {}) } } : u));
    st.media = { roots: ['/run/media/tech/STICK'], rootIndex: 0, listing: { ...LISTING, updates }, loading: false, selected: 1, verdicts: {} };
    p(st);
    const f = frameFor(st, DE, { width: 80, height: 21 });
    const detail = detailLines(st, DE);
    const screen = [f.title, ...f.lines.map((l) => l.text), f.keys, f.status?.text ?? '', ...detail].join('\n');
    // The German status words are on the device screen, never the engine's English ones.
    if (st.screen === 'device') expect(screen).toMatch(/A \*\s+gut\s+1\.0\.0/);
    return screen;
  });
}

/** English phrases of the catalogue that German translates: the fixed text between placeholders, 5+ characters. */
function englishPhrases(): string[] {
  const german = [...Object.values(UI_DE), ...Object.values(ENGINE_DE)].join('\n');
  const de: Record<string, string> = { ...UI_DE, ...ENGINE_DE };
  const out = new Set<string>();
  for (const [k, en] of [...Object.entries(UI_EN), ...Object.entries(ENGINE_EN)]) {
    if (de[k] === en) continue;
    for (const part of en.split(/\{[a-z]+\}/i)) {
      const t = part.trim().replace(/^[\s,:;.()!?-]+|[\s,:;.()!?-]+$/g, '');
      if (t.length >= 5 && /[a-z]{3}/i.test(t) && !german.includes(t)) out.add(t);
    }
  }
  return [...out];
}

describe('--lang de', () => {
  it('renders the main screens with no English catalogue text left on them', () => {
    const phrases = englishPhrases();
    expect(phrases.length).toBeGreaterThan(100);
    for (const screen of germanScreens()) {
      // Error codes ([HEALTH_CHECK_FAILED]) are stable identifiers, the same in every language.
      const text = screen.replace(/\[[A-Z_]+\]/g, '');
      const left = phrases.filter((p) => text.includes(p));
      expect(left, screen).toEqual([]);
    }
  });
});

describe('--lang de on a terminal without UTF-8', () => {
  it('writes umlauts as German does without them (ae, oe, ue, ss), never as "?", and says the arrows in German', () => {
    const st = initialState(ASCII_GLYPHS);
    st.device = { info: DEVICE, loading: false };
    st.media = { roots: ['/run/media/tech/STICK'], rootIndex: 0, listing: LISTING, loading: false, selected: 1, verdicts: {} };
    for (const screen of ['device', 'media'] as const) {
      st.screen = screen;
      const f = frameFor(st, DE, { width: 80, height: 21 });
      const text = [f.title, ...f.lines.map((l) => l.text), f.keys].join('\n');
      expect(text).toMatch(/^[\x00-\x7f]*$/);
      expect(text.replace(/\? Hilfe/g, '')).not.toContain('?');
      if (screen === 'device') expect(text).toContain('Geraet');
      if (screen === 'media') expect(f.keys).toContain('Auf/Ab waehlen');
    }
  });
});

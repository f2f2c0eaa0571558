import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { bar, fit, formatBytes, formatDuration, wrap } from '../../tui/format.js';
import { eta, finishMeter, percent, rate, startMeter, updateMeter } from '../../tui/meter.js';
import { createRepaintScheduler } from '../../tui/scheduler.js';
import { stageOf } from '../../tui/state.js';
import { explainError, ERRORS_EN, LANGUAGES } from '../../tui/strings.js';
import { ERRORS_DE } from '../../tui/strings-de-errors.js';

describe('string table', () => {
  it('explains every error code in every language, in one line each', () => {
    for (const [lang, s] of Object.entries(LANGUAGES)) {
      for (const code of Object.keys(ERROR_CODES)) {
        const help = s.errors[code as keyof typeof ERROR_CODES];
        expect(help, `${lang}: ${code}`).toBeDefined();
        expect(`${help!.what} ${help!.next}`).not.toContain('\n');
      }
    }
  });
  it('has its own German line for every error code (no silent English fallback)', () => {
    for (const code of Object.keys(ERROR_CODES) as Array<keyof typeof ERROR_CODES>) {
      const de = ERRORS_DE[code];
      expect(de, `German line for ${code}`).toBeDefined();
      expect(de!.what, code).not.toBe(ERRORS_EN[code]!.what);
      expect(de!.next, code).not.toBe(ERRORS_EN[code]!.next);
    }
  });
  it('falls back by exit-code family for a code it does not know', () => {
    expect(explainError(LANGUAGES.en!, 'SOMETHING_NEW').next).toContain('support');
  });
});

describe('text fitting', () => {
  it('cuts long text with an ellipsis and wraps paragraphs', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 4)).toBe('abc');
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wrap('a b c d e f', 3, 2)).toEqual(['a b', 'c …']);
  });
  it('formats sizes, durations and bars', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(12_582_912)).toBe('12.0 MiB');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(undefined)).toBe('--');
    expect(bar(0.5, 12)).toBe('[#####.....]');
  });
});

describe('meter', () => {
  it('computes MB/s over a sliding window and an ETA', () => {
    let m = startMeter(0, 100_000_000);
    m = updateMeter(m, 1000, 10_000_000);
    m = updateMeter(m, 2000, 20_000_000);
    expect(rate(m)).toBe(10_000_000);
    expect(eta(m)).toBe(8);
    expect(percent(m)).toBe(20);
  });
  it('holds at 99% until finished', () => {
    const m = updateMeter(startMeter(0, 10), 10, 10);
    expect(percent(m)).toBe(99);
    expect(percent(finishMeter(m, 20))).toBe(100);
  });
});

describe('repaint scheduler', () => {
  it('paints progress at most once per interval and keys at once', () => {
    let t = 0;
    const timeouts: Array<[number, () => void]> = [];
    const immediates: Array<() => void> = [];
    let paints = 0;
    const request = createRepaintScheduler(() => paints++, 100, { now: () => t, setTimeout: (fn, ms) => timeouts.push([t + ms, fn]), setImmediate: (fn) => immediates.push(fn) });
    for (let i = 0; i < 1000; i++) request(false);
    expect(timeouts.length).toBe(1);
    timeouts.shift()![1]();
    expect(paints).toBe(1);
    t = 10;
    request(false);
    expect(timeouts[0]![0]).toBe(100); // waits until 100 ms after the last paint
    request(true);
    request(true);
    expect(immediates.length).toBe(1);
    immediates.shift()!();
    expect(paints).toBe(2);
  });
});

describe('stageOf', () => {
  it('maps engine steps onto the apply stages', () => {
    expect(stageOf('write')).toBe('write');
    expect(stageOf('extract-layer')).toBe('write');
    expect(stageOf('fsync')).toBe('sync');
    expect(stageOf('bootloader')).toBe('bootloader');
    expect(stageOf('plan')).toBe('verify');
    expect(stageOf('verify')).toBe('verify');
    expect(stageOf('receipt')).toBe('receipt');
    expect(stageOf('something-new')).toBe('something-new');
  });
});

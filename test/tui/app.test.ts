import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { App } from '../../tui/app.js';
import { UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { frameFor } from '../../tui/views/index.js';
import { FakeEngine, LISTING, PENDING_DEVICE } from './fake-engine.js';

const tick = () => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await tick();
}

function makeApp(engine = new FakeEngine()) {
  let quit = false;
  const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => ['/run/media/tech/STICK'], changed: () => undefined, quit: () => (quit = true) });
  const text = () => frameFor(app.state, stringsFor('en'), { width: 80, height: 21 }).lines.map((l) => l.text).join('\n');
  return { app, engine, text, quitted: () => quit };
}

async function toConfirm(t: ReturnType<typeof makeApp>): Promise<void> {
  await t.app.start();
  t.app.key('enter'); // verify the preselected installable update
  await settle();
  t.engine.blobsGate.open();
  await settle();
  t.app.key('enter'); // review
  await settle();
}

describe('App (terminal UI controller)', () => {
  it('opens the stick at start and preselects the first installable update', async () => {
    const t = makeApp();
    await t.app.start();
    expect(t.app.state.screen).toBe('media');
    expect(t.app.state.media.selected).toBe(1);
    expect(t.text()).toContain('1.1.0');
  });

  it('walks verify, confirm (Tab to Install, Enter), apply and done, in that order', async () => {
    const t = makeApp();
    await toConfirm(t);
    expect(t.app.state.screen).toBe('confirm');
    t.app.key('enter'); // focus starts on Back: Enter goes back, nothing installed
    expect(t.app.state.screen).toBe('media');
    expect(t.engine.calls).not.toContain('apply kiosk-1.1.0');
    t.app.key('enter');
    await settle();
    t.engine.blobsGate = { wait: Promise.resolve(), open: () => undefined };
    await settle();
    t.app.key('enter');
    await settle();
    t.app.key('tab');
    t.app.key('enter');
    expect(t.app.state.screen).toBe('apply');
    t.engine.applyGate.open();
    await settle();
    expect(t.app.state.screen).toBe('done');
    expect(t.text()).toContain('Installed 1.1.0 into slot B');
    expect(t.engine.calls.filter((c) => c.startsWith('apply'))).toEqual(['apply kiosk-1.1.0']);
  });

  it('does nothing on Enter for an update that is not applicable', async () => {
    const t = makeApp();
    await t.app.start();
    t.app.key('down'); // tablet-3.0.0, incompatible
    t.app.key('enter');
    await settle();
    expect(t.app.state.screen).toBe('media');
    expect(t.text()).toContain('this update is for another kind of device [INCOMPATIBLE_DEVICE]');
  });

  it('cancels an apply only after a second confirmation, and says the running system was not touched', async () => {
    const t = makeApp();
    await toConfirm(t);
    t.app.key('y');
    await settle();
    t.app.key('q'); // q asks, does not cancel
    expect(t.engine.applySignal?.aborted).toBe(false);
    t.app.key('n');
    expect(t.app.state.apply?.cancelAsked).toBe(false);
    t.app.key('c');
    t.app.key('y');
    expect(t.engine.applySignal?.aborted).toBe(true);
    t.engine.applyGate.open();
    await settle();
    expect(t.app.state.apply?.cancelled).toBe(true);
    expect(t.text()).toContain('cancelled: running system untouched; slot B stays bad until rewritten.');
    t.app.key('q');
    await settle();
    expect(t.app.state.screen).toBe('device');
  });

  it('refuses to cancel once the bootloader switch has begun', async () => {
    const t = makeApp();
    await toConfirm(t);
    t.app.key('y');
    await settle();
    t.engine.progress!({ step: 'bootloader', bytesDone: 0, bytesTotal: 0 });
    t.app.key('c');
    expect(t.app.state.apply?.cancelAsked).toBe(false);
    expect(t.engine.applySignal?.aborted).toBe(false);
    expect(t.text()).toContain('cannot cancel now');
  });

  it('shows an apply failure with its code, explanation and next step', async () => {
    const t = makeApp();
    t.engine.applyFails = new FerryError('DIGEST_MISMATCH', 'layer sha256:ab… does not match');
    await toConfirm(t);
    t.app.key('y');
    t.engine.applyGate.open();
    await settle();
    const out = t.text();
    expect(out).toContain('part of the image does not match its signature [DIGEST_MISMATCH]');
    expect(out).toContain('Next: the stick is damaged: re-copy it at headquarters');
  });

  it('stops a running verification on q and returns to the list', async () => {
    const t = makeApp();
    await t.app.start();
    t.app.key('enter');
    await settle();
    t.app.key('q');
    t.engine.blobsGate.open();
    await settle();
    expect(t.app.state.screen).toBe('media');
    expect(t.app.state.verify?.phase).toBe('stopped');
  });

  it('asks before going back and keeps (marks good) only on confirmation; a failed health check needs a second yes', async () => {
    const t = makeApp();
    t.engine.device = PENDING_DEVICE;
    await t.app.start();
    expect(t.app.state.screen).toBe('device'); // the running slot on trial comes first, not the stick
    expect(t.text()).toContain('Version 1.1.0 (slot B) is on trial, not committed.');
    t.app.key('b');
    expect(t.app.state.screen).toBe('maint');
    expect(t.text()).toContain('Go back to 1.0.0 (slot A)?');
    t.app.key('enter'); // Back is focused
    expect(t.engine.calls).not.toContain('rollback');
    t.app.key('g');
    expect(t.text().replace(/\s+/g, ' ')).toContain('after this, versions older than 1.1.0 can no longer be installed');
    t.app.key('tab');
    t.app.key('enter');
    await settle();
    expect(t.engine.calls).toContain('markGood');
    // Said from the catalogue, not the engine's English message.
    expect(t.text().replace(/\s+/g, ' ')).toContain('1.1.0 (slot B) is committed and starts by default; after this, versions older than 1.1.0 can no longer be installed');
    expect(t.text()).not.toContain('<engine text>');
    t.app.key('enter');
    t.engine.device = { ...PENDING_DEVICE, markGood: { ...PENDING_DEVICE.markGood, failedCheck: { message: 'health check failed: exited 7: disk full' } } };
    await t.app.refreshDevice();
    t.app.key('g');
    expect(t.text().replace(/\s+/g, ' ')).toContain('FAILED: health check failed: exited 7: disk full');
    t.app.key('y');
    expect(t.engine.calls).not.toContain('markGood --force');
    expect(t.text().replace(/\s+/g, ' ')).toContain('Are you sure?');
    t.app.key('y');
    await settle();
    expect(t.engine.calls).toContain('markGood --force');
    expect(t.text().replace(/\s+/g, ' ')).toContain('1.1.0 (slot B) is committed despite its failed health check');
  });

  it('opens the stick by itself once it is plugged in, but never in the middle of a flow', async () => {
    const engine = new FakeEngine();
    let mounted: string[] = [];
    const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => mounted, changed: () => undefined, quit: () => undefined });
    await app.start();
    expect(app.state.screen).toBe('device');
    await app.pollMedia();
    expect(app.state.screen).toBe('device');
    mounted = ['/run/media/tech/STICK'];
    app.key('b'); // the technician is busy on the roll-back screen
    await app.pollMedia();
    expect(app.state.screen).toBe('maint');
    app.key('q');
    await app.pollMedia();
    expect(app.state.screen).toBe('media');
    expect(engine.calls).toContain('list /run/media/tech/STICK');
    mounted = [];
    await app.pollMedia();
    expect(app.state.media.error?.code).toBe('MEDIA_NOT_FOUND');
    app.key('q');
    mounted = ['/run/media/tech/STICK'];
    await app.pollMedia();
    expect(app.state.screen).toBe('media');
  });

  it('switches between several plugged-in sticks with n', async () => {
    const engine = new FakeEngine();
    const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => ['/media/ONE', '/media/TWO'], changed: () => undefined, quit: () => undefined });
    await app.start();
    expect(app.state.media.listing?.root).toBe('/media/ONE');
    app.key('n');
    await settle();
    expect(app.state.media.listing?.root).toBe('/media/TWO');
    app.key('n');
    await settle();
    expect(app.state.media.listing?.root).toBe('/media/ONE');
  });

  it('quits from the device screen on q and shows the log on l from anywhere', async () => {
    const t = makeApp();
    await t.app.start();
    t.app.key('l');
    expect(t.app.state.screen).toBe('log');
    expect(t.text()).toContain('1 installable');
    t.app.key('escape');
    expect(t.app.state.screen).toBe('media');
    t.app.key('q');
    t.app.key('q');
    expect(t.quitted()).toBe(true);
  });

  it('starts on the update the engine would choose, not the first installable one', async () => {
    const engine = new FakeEngine();
    engine.listUpdates = async (root: string) => ({ root, updates: [{ ...LISTING.updates[1]!, id: 'kiosk-1.0.5' }, ...LISTING.updates], chosenId: 'kiosk-1.1.0' });
    const t = makeApp(engine);
    await t.app.start();
    expect(t.app.state.media.listing!.updates[t.app.state.media.selected]!.id).toBe('kiosk-1.1.0');
    expect(t.text()).toContain('the one ferry would choose');
  });

  it('keeps a failed verify on the list while the stick is in, and forgets it when the stick is pulled', async () => {
    const engine = new FakeEngine();
    engine.verifyBlobs = async () => {
      throw new FerryError('DIGEST_MISMATCH', 'blob sha256:ab of kiosk-1.1.0: content does not match its digest');
    };
    let mounted = ['/run/media/tech/STICK'];
    const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => mounted, changed: () => undefined, quit: () => undefined });
    await app.start();
    app.key('enter');
    await settle();
    app.key('q');
    const text = () => frameFor(app.state, stringsFor('en'), { width: 80, height: 21 }).lines.map((l) => l.text).join('\n');
    expect(text()).toMatch(/kiosk-1\.1\.0.*✗ verify failed/);
    app.key('enter'); // refused: nothing starts
    expect(app.state.screen).toBe('media');
    mounted = [];
    await app.pollMedia();
    expect(app.state.media.verdicts).toEqual({});
  });

  it('never switches to another stick silently when the one in use is pulled', async () => {
    const engine = new FakeEngine();
    let mounted = ['/media/ONE', '/media/TWO'];
    const app = new App({ engine, glyphs: UNICODE_GLYPHS, findMedia: async () => mounted, changed: () => undefined, quit: () => undefined });
    await app.start();
    expect(app.state.media.listing?.root).toBe('/media/ONE');
    mounted = ['/media/TWO'];
    await app.pollMedia();
    expect(app.state.media.switchNotice).toEqual({ gone: '/media/ONE', next: '/media/TWO' });
    expect(app.state.media.listing).toBeUndefined();
    expect(engine.calls.filter((c) => c === 'list /media/TWO')).toHaveLength(0);
    app.key('enter');
    await settle();
    expect(app.state.media.listing?.root).toBe('/media/TWO');
  });

  it('says on Done that a cancel came too late when the install finished while the question was open', async () => {
    const t = makeApp();
    await toConfirm(t);
    t.app.key('y');
    await settle();
    t.app.key('c'); // the question is on screen ...
    t.engine.applyGate.open(); // ... and the engine finishes anyway
    await settle();
    expect(t.app.state.screen).toBe('done');
    expect(t.text()).toContain('Your cancel came too late: the update was already installed.');
  });

  it('says when the reboot command ran (never a "rebooting…" that stays), and drops the keys that no longer apply', async () => {
    const t = makeApp();
    await toConfirm(t);
    t.app.key('y');
    t.engine.applyGate.open();
    await settle();
    const keys = () => frameFor(t.app.state, stringsFor('en'), { width: 80, height: 21 }).keys;
    expect(keys()).toContain('r reboot now');
    t.app.key('r');
    await settle();
    expect(t.engine.calls).toContain('reboot');
    expect(t.text()).toContain('The reboot command ran: the device restarts now.');
    expect(t.text()).not.toContain('reboot requested…');
    expect(keys()).not.toContain('r reboot now');
    t.app.key('r');
    await settle();
    expect(t.engine.calls.filter((c) => c === 'reboot')).toHaveLength(1);
  });

  it('shows a failed reboot command with its code instead of waiting forever', async () => {
    const engine = new FakeEngine();
    engine.reboot = async () => {
      throw new FerryError('COMMAND_FAILED', 'systemctl reboot: exit 1');
    };
    const t = makeApp(engine);
    await toConfirm(t);
    t.app.key('y');
    t.engine.applyGate.open();
    await settle();
    t.app.key('r');
    await settle();
    expect(t.text()).toContain('[COMMAND_FAILED]');
    expect(t.text()).not.toContain('reboot requested…');
  });

  it('delivers waiting receipts to a stick as soon as it is found', async () => {
    const engine = new FakeEngine();
    engine.deliverReceipts = async (root: string) => ({ written: [`${root}/FERRY/receipts/kiosk-0042/x-boot-check.json`], kept: 0 });
    const t = makeApp(engine);
    await t.app.start();
    expect(t.text()).toContain('1 waiting receipt(s) written to this stick');
  });
});

/**
 * The virtual kiosk for the VM tests (samples/vm, docs/vm.md): build it once, copy its
 * disk per case, set the per-boot scenario lines on the data partition, boot it with
 * QEMU, read `ferry-vm:` lines off the serial console, kill it like a power cut, and
 * inspect the disk image afterwards without mounting anything (debugfs, grub-editenv, mtools).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { readBuild } from './build.js';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
const SAMPLES = path.join(REPO, 'samples', 'vm');

/** A built kiosk: base disk, stick and PKI (DIR of build-image.sh). */
export interface KioskBuild {
  dir: string;
  /** bios: grubenv on the ext4 boot partition; uefi: on the FAT ESP. */
  flavour: 'bios' | 'uefi';
  layout: { BOOT_OFFSET: number; DATA_OFFSET: number; SLOT_A_OFFSET: number; TINY_OFFSET: number; ESP_OFFSET: number };
}

/** Build (or take from the cache) the kiosk images into `dir`. */
export function buildKiosk(dir: string, flavour: 'bios' | 'uefi' = 'bios'): KioskBuild {
  execFileSync('bash', [path.join(SAMPLES, 'build-image.sh'), '--out', dir, '--flavour', flavour], { stdio: ['ignore', 'inherit', 'inherit'] });
  return readBuild(dir);
}

/** A private copy of the base disk (and stick) for one case. */
export interface Case {
  name: string;
  disk: string;
  stick: string;
  build: KioskBuild;
  /** The stick's file system: FAT32 (the usual stick) or ext4 (the second stick case). */
  stickFs: 'vfat' | 'ext4';
  /** Set while the disk may hold unreplayed ext4 journals (after a VM ran on it). */
  dirty?: boolean;
  /** Set while a VM runs on the disk: the host must not read or repair it then. */
  running?: boolean;
}

/**
 * Copy the base disk and stick for a case named `name` (sparse copies: fast). `from`: start
 * from the `applied` snapshot (global-setup.ts: A adopted, kiosk 1.1.0 applied to B, not yet
 * booted) instead of a fresh device; `stickFs`: the FAT32 stick or the ext4 one.
 */
export function newCase(build: KioskBuild, work: string, name: string, opts: { from?: 'fresh' | 'applied'; stickFs?: 'vfat' | 'ext4' } = {}): Case {
  const disk = path.join(work, `${name}.disk.img`);
  const stick = path.join(work, `${name}.stick.img`);
  const stickFs = opts.stickFs ?? 'vfat';
  const prefix = opts.from === 'applied' ? 'applied.' : '';
  if (opts.from === 'applied' && stickFs !== 'vfat') throw new Error('the applied snapshot has the FAT32 stick');
  execFileSync('cp', ['--sparse=always', path.join(build.dir, `${prefix}disk.img`), disk]);
  execFileSync('cp', ['--sparse=always', path.join(build.dir, stickFs === 'ext4' ? 'stick-ext4.img' : `${prefix}stick.img`), stick]);
  // the snapshot's journals were replayed when it was taken
  return { name, disk, stick, build, stickFs };
}

/**
 * Replay the ext4 journals of the boot and data partitions (e2fsck -p, as the kernel's
 * mount would) before reading or writing them: after a power cut the newest metadata may
 * sit in the journal only, and debugfs does not replay it. Exit 4 and up means damage.
 */
function settle(c: Case): void {
  if (c.running) throw new Error(`${c.name}: the disk is in use by a running VM; read it after the VM stopped`);
  if (!c.dirty) return;
  for (const off of [c.build.layout.BOOT_OFFSET, c.build.layout.DATA_OFFSET]) {
    // through a loop device at the partition's offset: e2fsck loses an `image?offset=` when it
    // re-opens the file system after the journal replay
    const loop = execFileSync('losetup', ['-f', '--show', '-o', String(off), c.disk], { encoding: 'utf8' }).trim();
    try {
      execFileSync('e2fsck', ['-p', loop], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const status = (e as { status?: number }).status ?? 8;
      if (status >= 4) throw new Error(`${c.name}: e2fsck found damage at offset ${off} (exit ${status}): ${(e as { stdout?: Buffer }).stdout?.toString() ?? ''}`);
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  }
  c.dirty = false;
}

function debugfs(image: string, offset: number, request: string, write = false): string {
  return execFileSync('debugfs', [...(write ? ['-w'] : []), '-R', request, `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Write the per-boot scenario lines (one line per boot, consumed by the kiosk's init). */
export function setScenario(c: Case, lines: string[]): void {
  settle(c);
  const tmp = path.join(os.tmpdir(), `ferry-vm-scenario-${process.pid}-${c.name}`);
  fs.writeFileSync(tmp, lines.join('\n') + '\n');
  try {
    debugfs(c.disk, c.build.layout.DATA_OFFSET, 'rm /vm/scenario', true);
    debugfs(c.disk, c.build.layout.DATA_OFFSET, `write ${tmp} /vm/scenario`, true);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** A file on the data partition (undefined when absent). */
export function dataFile(c: Case, file: string): string | undefined {
  settle(c);
  const out = debugfs(c.disk, c.build.layout.DATA_OFFSET, `cat ${file}`);
  return out.length === 0 ? undefined : out;
}

/** Names in a folder of the data partition. */
export function dataLs(c: Case, dir: string): string[] {
  settle(c);
  return ext4Ls(c.disk, c.build.layout.DATA_OFFSET, dir);
}

/** Names in a folder of an ext4 file system in `image` at `offset` (debugfs `ls -p`: /inode/mode/uid/gid/name/size/). */
function ext4Ls(image: string, offset: number, dir: string): string[] {
  const out = debugfs(image, offset, `ls -p ${dir}`);
  if (!out.startsWith('/')) throw new Error(`debugfs: cannot list ${dir} in ${image}: ${out}`);
  return out
    .split('\n')
    .filter((l) => l.startsWith('/'))
    .map((l) => l.split('/')[5]!)
    .filter((n) => n !== '.' && n !== '..');
}

/** Names beside the grubenv (the boot partition's /boot/grub, or the ESP's /EFI/BOOT under UEFI). */
export function bootLs(c: Case): string[] {
  settle(c);
  if (c.build.flavour === 'uefi') {
    return execFileSync('mdir', ['-b', '-i', `${c.disk}@@${c.build.layout.ESP_OFFSET}`, '::/EFI/BOOT'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => path.posix.basename(l.trim()));
  }
  return ext4Ls(c.disk, c.build.layout.BOOT_OFFSET, '/boot/grub');
}

/** ferry's state.json from the data partition, parsed (throws if unreadable). */
export function readState(c: Case): { slots: Record<'A' | 'B', { status: string; version?: string; lastError?: { code: string; message: string } }>; lastResult?: { action: string; result: string; code?: string }; pendingReceipts: unknown[] } {
  const text = dataFile(c, '/ferry/state/state.json');
  if (text === undefined) throw new Error(`${c.name}: no state.json on the data partition`);
  return JSON.parse(text);
}

/** `grub-editenv list` of the boot partition's grubenv. */
export function grubenv(c: Case): Record<string, string> {
  settle(c);
  const tmp = path.join(os.tmpdir(), `ferry-vm-grubenv-${process.pid}-${c.name}`);
  try {
    if (c.build.flavour === 'uefi') execFileSync('mcopy', ['-n', '-i', `${c.disk}@@${c.build.layout.ESP_OFFSET}`, '::/EFI/BOOT/grubenv', tmp]);
    else debugfs(c.disk, c.build.layout.BOOT_OFFSET, `dump /boot/grub/grubenv ${tmp}`);
    const out = execFileSync('grub-editenv', [tmp, 'list'], { encoding: 'utf8' });
    return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The receipts on the stick image for the kiosk (read with mtools). */
export function stickReceipts(c: Case): Array<{ file: string; action: string; result: string; version?: string; error?: { code: string } }> {
  if (c.stickFs === 'ext4') return ext4StickReceipts(c);
  const dir = '::/FERRY/receipts/vm-kiosk-0001';
  let names: string[];
  try {
    names = execFileSync('mdir', ['-b', '-i', c.stick, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter((l) => l.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((f) => ({ file: path.basename(f), ...parseReceipt(c, f, execFileSync('mtype', ['-i', c.stick, f.startsWith('::') ? f : `::${f}`], { encoding: 'utf8' })) }));
}

/** A receipt's JSON; a torn or empty one fails naming the file (a power cut must never leave one). */
function parseReceipt(c: Case, file: string, text: string): Record<string, unknown> & { action: string; result: string } {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${c.name}: receipt ${file} on the stick is not JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))}): ${(e as Error).message}`);
  }
}

function ext4StickReceipts(c: Case): Array<{ file: string; action: string; result: string; version?: string; error?: { code: string } }> {
  stickJournal(c);
  const dir = '/FERRY/receipts/vm-kiosk-0001';
  let names: string[];
  try {
    names = ext4Ls(c.stick, 0, dir).filter((s) => s.endsWith('.json'));
  } catch {
    return []; // no receipts folder yet
  }
  return names.sort().map((f) => ({ file: f, ...parseReceipt(c, f, debugfs(c.stick, 0, `cat ${dir}/${f}`)) }));
}

/** Replay an ext4 stick's journal (the guest may have been cut while it was mounted). */
function stickJournal(c: Case): void {
  if (c.running) throw new Error(`${c.name}: the stick is in use by a running VM`);
  try {
    execFileSync('e2fsck', ['-p', c.stick], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const status = (e as { status?: number }).status ?? 8;
    if (status >= 4) throw new Error(`${c.name}: e2fsck found damage on the ext4 stick (exit ${status})`);
  }
}

/** Copy the stick's FERRY folder out of the image (mtools, or debugfs for ext4) for `ferry verify`. */
export function extractStick(c: Case, into: string): string {
  fs.mkdirSync(into, { recursive: true });
  if (c.stickFs === 'ext4') {
    stickJournal(c);
    execFileSync('debugfs', ['-R', `rdump /FERRY ${into}`, c.stick], { stdio: ['ignore', 'pipe', 'pipe'] });
  } else execFileSync('mcopy', ['-s', '-n', '-i', c.stick, '::/FERRY', into]);
  return into;
}

/** The VMs still running, so that a failed test leaves none behind (stopAll in afterAll). */
const live = new Set<Vm>();

/** Kill every VM of this test file that still runs. */
export async function stopAll(): Promise<void> {
  for (const vm of [...live]) await vm.kill();
}

/** One boot of the kiosk under QEMU, serial console collected. */
export class Vm {
  readonly lines: string[] = [];
  /** When each line arrived (ms since the epoch). */
  readonly times: number[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private waiters: Array<() => void> = [];
  readonly qmpSocket: string;
  readonly started = Date.now();
  /** The guest kernel's soft-lockup or RCU-stall line, once it reported one twice without progress. */
  lockup: string | undefined;
  /** A first lockup report not yet followed by a `ferry-vm:` event (one alone can be the host's doing). */
  private suspect: string | undefined;

  constructor(
    readonly c: Case,
    opts: { stick?: boolean } = {},
  ) {
    c.dirty = true;
    c.running = true;
    this.qmpSocket = path.join(os.tmpdir(), `ferry-vm-qmp-${process.pid}-${c.name}.sock`);
    fs.rmSync(this.qmpSocket, { force: true });
    const args = [path.join(c.build.dir, 'run.sh'), '--disk', c.disk, '--qmp', this.qmpSocket];
    if (opts.stick !== false) args.push('--stick', c.stick);
    // nice: the machine is shared; QEMU under TCG would take every cycle it can get
    this.child = spawn('nice', ['-n', '5', 'bash', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r/g, '');
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        this.times.push(Date.now());
        // a guest kernel that locked up never comes back: fail at its second report instead of at
        // the timeout. A single report can be the host's doing (QEMU's thread descheduled for 20 s
        // on a busy machine looks like a stuck CPU to the guest); a real lock-up repeats it.
        if (/soft lockup|rcu_preempt self-detected stall/.test(line)) {
          if (this.suspect !== undefined && this.lockup === undefined) this.lockup = `${this.suspect.trim()}, then ${line.trim()}`;
          this.suspect ??= line;
        } else if (line.startsWith('ferry-vm: ')) this.suspect = undefined;
        // FERRY_VM_LOG=FILE: every serial line, with the case and the seconds since boot (watch with tail -f)
        if (process.env.FERRY_VM_LOG) fs.appendFileSync(process.env.FERRY_VM_LOG, `[${c.name} ${((Date.now() - this.started) / 1000).toFixed(0)}s] ${line}\n`);
      }
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    // 'close', not 'exit': every console line QEMU wrote has been read by then
    live.add(this);
    this.exited = new Promise((resolve) => this.child.once('close', (code) => {
      live.delete(this);
      c.running = false;
      fs.rmSync(this.qmpSocket, { force: true });
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
  }

  /** The `ferry-vm:` event lines so far. */
  events(): string[] {
    return this.lines.filter((l) => l.startsWith('ferry-vm: ')).map((l) => l.slice('ferry-vm: '.length));
  }

  /** The `ferry-vm:` events with their arrival times. */
  eventTimes(): Array<{ event: string; at: number }> {
    const out: Array<{ event: string; at: number }> = [];
    this.lines.forEach((l, i) => {
      if (l.startsWith('ferry-vm: ')) out.push({ event: l.slice('ferry-vm: '.length), at: this.times[i]! });
    });
    return out;
  }

  /** Wait until an event line matches `re` (counting from event index `from`); fails on exit or timeout. */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<{ line: string; index: number }> {
    const r = await this.watch(re, timeoutMs, from);
    if (r === 'exit') throw new Error(`${this.c.name}: QEMU exited before ${re}; ${this.tail()}`);
    if (r === 'timeout') throw new Error(`${this.c.name}: timed out waiting for ${re}; ${this.tail()}`);
    return r;
  }

  /** The events so far and the last console lines, for a failure message. */
  tail(): string {
    return `events:\n${this.events().join('\n')}\nlast console lines:\n${this.lines.slice(-40).join('\n')}`;
  }

  /** Like waitFor, but says 'timeout' or 'exit' instead of failing (for timing power cuts). */
  async watch(re: RegExp | ((event: string) => boolean), timeoutMs: number, from = 0): Promise<{ line: string; index: number } | 'timeout' | 'exit'> {
    const deadline = Date.now() + timeoutMs;
    const test = typeof re === 'function' ? re : (e: string) => re.test(e);
    let done = false;
    void this.exited.then(() => (done = true));
    for (;;) {
      const ev = this.events();
      for (let i = from; i < ev.length; i++) if (test(ev[i]!)) return { line: ev[i]!, index: i };
      if (this.lockup !== undefined) {
        await this.kill();
        throw new Error(`${this.c.name}: the guest kernel locked up (${this.lockup}); ${this.tail()}`);
      }
      if (done) return 'exit';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Wait for the guest to power off (QEMU exits). */
  async waitExit(timeoutMs: number): Promise<void> {
    // through watch(): a guest kernel that locked up fails at once, not at the timeout
    if ((await this.watch(() => false, timeoutMs)) === 'timeout') {
      await this.kill();
      throw new Error(`${this.c.name}: the kiosk did not power off in time; ${this.tail()}`);
    }
  }

  /** Pull the plug: SIGKILL QEMU (the guest's page cache is lost, as in a power cut). */
  async kill(): Promise<void> {
    // run.sh exec()s QEMU, so the child is QEMU itself
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Send one QMP command (after the capabilities handshake); resolves with its reply. */
  async qmp(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const sock = net.createConnection(this.qmpSocket);
    let buf = '';
    const replies: unknown[] = [];
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        if ('return' in msg || 'error' in msg) replies.push(msg);
      }
    });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const send = async (cmd: Record<string, unknown>, n: number) => {
      sock.write(JSON.stringify(cmd) + '\n');
      while (replies.length < n) await new Promise((r) => setTimeout(r, 50));
      return replies[n - 1];
    };
    await send({ execute: 'qmp_capabilities' }, 1);
    const reply = await send({ execute: command, ...(args ? { arguments: args } : {}) }, 2);
    sock.end();
    return reply;
  }
}

/** Remove a case's images. */
export async function dropCase(c: Case): Promise<void> {
  await fsp.rm(c.disk, { force: true });
  await fsp.rm(c.stick, { force: true });
}

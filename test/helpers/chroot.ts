/**
 * Test helper: a minimal Debian root (debootstrap --variant=minbase) with no Node and no
 * node_modules, where the device's single executable and the .deb are tried as a device
 * would run them. debootstrap runs once per machine: the root is cached as a tarball under
 * /var/cache/ferry-test/ (FERRY_TEST_CACHE overrides) and unpacked fresh for each test file.
 * Commands run in a private mount namespace (`unshare -m`) with /proc mounted, so nothing is
 * left mounted on the host when they end.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

const CACHE_DIR = process.env.FERRY_TEST_CACHE ?? '/var/cache/ferry-test';
const SUITE = 'bookworm';
/** The PATH a device's services see; none of these folders holds node in a minbase root. */
export const DEVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The cached minbase tarball, built on first use (one builder at a time, under flock). */
export function minbaseTarball(): string {
  const tar = path.join(CACHE_DIR, `debian-${SUITE}-minbase.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = path.join(CACHE_DIR, `build-${process.pid}`);
  // debootstrap uses its default Debian mirror; the tarball appears only when complete.
  const script = `[ -f "$1" ] && exit 0; rm -rf "$2" && debootstrap --variant=minbase ${SUITE} "$2" >/dev/null && tar -C "$2" --numeric-owner -cf "$1.tmp" . && mv "$1.tmp" "$1"; rc=$?; rm -rf "$2"; exit $rc`;
  execFileSync('flock', [path.join(CACHE_DIR, '.minbase.lock'), 'sh', '-c', script, 'sh', tar, work], { stdio: 'inherit', timeout: 30 * 60_000 });
  return tar;
}

/** A throwaway root file system. */
export interface Chroot {
  root: string;
  /** Run argv inside the root with a clean environment (PATH=DEVICE_PATH plus `env`). */
  run(argv: string[], env?: Record<string, string>, input?: string): SpawnSyncReturns<string>;
  /** The shell command line that runs argv in the root (for a tmux pane). */
  commandLine(argv: string[], env?: Record<string, string>): string;
  cleanup(): Promise<void>;
}

/** Shell-quote one word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function chrootArgv(root: string, argv: string[], env: Record<string, string>): string[] {
  const envs = Object.entries({ PATH: DEVICE_PATH, HOME: '/root', ...env }).map(([k, v]) => `${k}=${v}`);
  const inner = 'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/env -i "$@"';
  return ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', inner, root, ...envs, ...argv];
}

/** Unpack a fresh minbase root into a temp dir. */
export async function makeChroot(prefix = 'ferry-chroot-'): Promise<Chroot> {
  const tar = minbaseTarball();
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  execFileSync('tar', ['-C', root, '--numeric-owner', '-xf', tar]);
  return {
    root,
    run: (argv, env = {}, input) => spawnSync(chrootArgv(root, argv, env)[0]!, chrootArgv(root, argv, env).slice(1), { encoding: 'utf8', input: input ?? '', timeout: 120_000 }),
    commandLine: (argv, env = {}) => chrootArgv(root, argv, env).map(shellQuote).join(' '),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
}

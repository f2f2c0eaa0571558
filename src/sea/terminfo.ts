/**
 * The TUI's terminfo inside the single executable. blessed 0.1.81 reads compiled terminfo files
 * and understands only the legacy format (magic 0432); Debian compiles the *-256color entries in
 * the extended 32-bit format, which blessed rejects and then looks for its own copies beside
 * its source files, which a single executable does not have. So the build compiles the entries a
 * kiosk meets (linux, vt100, vt220, xterm*, screen*, tmux*) in the legacy format and embeds them
 * as SEA assets `terminfo/<c>/<name>`; at start the TUI writes them to a private temporary folder
 * and points TERMINFO at it (blessed searches TERMINFO first).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getAsset, getAssetKeys } from 'node:sea';

/** Asset key prefix of the embedded terminfo entries. */
export const TERMINFO_ASSET_PREFIX = 'terminfo/';

/** Write the embedded terminfo entries to a fresh private folder, set TERMINFO, remove it at exit. */
export function installTerminfo(): void {
  const keys = getAssetKeys().filter((k) => k.startsWith(TERMINFO_ASSET_PREFIX));
  if (keys.length === 0) return;
  // mkdtemp: a fresh 0700 folder, so no other user can plant entries (the TUI runs as root)
  const base = process.env.XDG_RUNTIME_DIR || tmpdir();
  let dir: string;
  try {
    dir = mkdtempSync(join(base, 'ferry-terminfo-'));
  } catch {
    return; // a read-only /tmp: blessed falls back to the system's terminfo
  }
  for (const key of keys) {
    const file = join(dir, key.slice(TERMINFO_ASSET_PREFIX.length));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, new Uint8Array(getAsset(key)));
  }
  process.env.TERMINFO = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * The peer tools, installed from Debian packages when missing (apt-get, as root).
 * A peer that still cannot run gets a reason for the table instead of a number.
 */
import { hasTool, rssMethod, runProc } from './proc.js';
import type { PeerStatus } from './ops.js';

const PACKAGES: Record<keyof PeerStatus | 'time', { tool: string; pkg: string }> = {
  skopeo: { tool: 'skopeo', pkg: 'skopeo' },
  umoci: { tool: 'umoci', pkg: 'umoci' },
  rauc: { tool: 'rauc', pkg: 'rauc' },
  mksquashfs: { tool: 'mksquashfs', pkg: 'squashfs-tools' },
  sha256sum: { tool: 'sha256sum', pkg: 'coreutils' },
  tar: { tool: 'tar', pkg: 'tar' },
  time: { tool: '/usr/bin/time', pkg: 'time' },
};

/** Check (and optionally install) every peer; without GNU time, RSS is polled from /proc. */
export async function ensurePeers(install: boolean, log: (s: string) => void): Promise<PeerStatus> {
  const missing = [];
  for (const [name, p] of Object.entries(PACKAGES)) if (!(await hasTool(p.tool))) missing.push({ name, ...p });
  if (missing.length > 0 && install) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    log(`installing peers: apt-get install -y ${pkgs.join(' ')}`);
    const r = await runProc('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.code !== 0) log(`apt-get failed (${r.code}); the table will say which peers did not run`);
  }
  const status = {} as PeerStatus;
  for (const [name, p] of Object.entries(PACKAGES)) {
    const ok = await hasTool(p.tool);
    if (name === 'time') {
      rssMethod.current = ok ? 'gnu-time' : 'proc-poll';
      if (!ok) log('GNU time is missing: peak RSS falls back to polling /proc (direct child only)');
      continue;
    }
    status[name as keyof PeerStatus] = ok ? undefined : `${p.tool} not installed (Debian package ${p.pkg})`;
  }
  return status;
}

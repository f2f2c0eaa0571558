/**
 * The device config's `"media"` section (pure): a site registry seeded by `ferry push` that
 * the device reads when no stick is named (`ferry device auto` without --media, the TUI's
 * media list), and how to reach it:
 * `"media": { "registry": "docker://site-registry:5000/ferry/kiosk", "tlsVerify": true,
 * "certDir": "/etc/ferry/registry-certs", "authfile": "/etc/ferry/auth.json" }`.
 */
import { isFerryError } from '../errors.js';
import { parseRegistryRef } from '../oci/registry/reference.js';

/** Where the device finds updates besides a stick. */
export interface MediaConfig {
  /** docker://HOST[:PORT]/PREFIX/TARGET, or undefined (sticks only). */
  registry?: string;
  /** Verify the registry's TLS certificate (default true); false also allows plain HTTP. */
  tlsVerify: boolean;
  /** CA certificates (*.crt) trusted for the registry besides the system store. */
  certDir?: string;
  /** Registry credentials (containers auth.json). */
  authfile?: string;
}

const KEYS = ['registry', 'tlsVerify', 'certDir', 'authfile'];

function absolutePath(v: unknown, key: string, bad: string[]): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v.startsWith('/') && !v.includes('\0')) return v;
  bad.push(`"media.${key}" must be an absolute path`);
  return undefined;
}

/** Parse the `"media"` section (absent: sticks only), adding problems to `bad`. */
export function parseMediaConfig(v: unknown, bad: string[]): MediaConfig {
  const out: MediaConfig = { tlsVerify: true };
  if (v === undefined) return out;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    bad.push('"media" must be an object like { "registry": "docker://HOST/PREFIX/TARGET" }');
    return out;
  }
  const m = v as Record<string, unknown>;
  for (const k of Object.keys(m)) if (!KEYS.includes(k)) bad.push(`unknown field "media.${k}"`);
  if (m.registry !== undefined) {
    if (typeof m.registry === 'string' && m.registry.startsWith('docker://')) {
      try {
        const name = m.registry.slice('docker://'.length);
        // a repository, not an image: the tags are the releases
        if (/[@]/.test(name) || name.includes(':', name.indexOf('/'))) throw new Error('tag');
        parseRegistryRef(`${name}:latest`);
        out.registry = m.registry;
      } catch (e) {
        if (!(isFerryError(e) || (e as Error).message === 'tag')) throw e;
        bad.push(`"media.registry" ${JSON.stringify(m.registry)} is not a repository docker://HOST[:PORT]/PREFIX/TARGET (no tag or digest)`);
      }
    } else bad.push('"media.registry" must be docker://HOST[:PORT]/PREFIX/TARGET');
  }
  if (m.tlsVerify !== undefined) {
    if (typeof m.tlsVerify === 'boolean') out.tlsVerify = m.tlsVerify;
    else bad.push('"media.tlsVerify" must be true or false');
  }
  const certDir = absolutePath(m.certDir, 'certDir', bad);
  if (certDir !== undefined) out.certDir = certDir;
  const authfile = absolutePath(m.authfile, 'authfile', bad);
  if (authfile !== undefined) out.authfile = authfile;
  return out;
}

/** The registry client options of the section. */
export function mediaRegistryOptions(m: MediaConfig): { tlsVerify: boolean; certDir?: string; authfile?: string } {
  return { tlsVerify: m.tlsVerify, ...(m.certDir !== undefined ? { certDir: m.certDir } : {}), ...(m.authfile !== undefined ? { authfile: m.authfile } : {}) };
}

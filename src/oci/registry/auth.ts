/**
 * Registry credentials as people already have them: the containers auth.json
 * (containers-auth.json(5)) or Docker's config.json, never the command line; and the
 * challenge answers of the distribution spec (Basic, and Bearer with a token from the realm).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { readFileCapped } from '../../util/fsx.js';
import { parseStrictJson } from '../../util/json.js';

/** A user name and password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

const AUTH_CAP = 1024 * 1024;

/** The auth files searched, in order (containers-auth.json(5)); `--authfile` replaces the list. */
export function authFiles(authfile: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (authfile !== undefined) return [authfile];
  const home = env.HOME ?? os.homedir();
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'containers', 'auth.json'), path.join(home, '.docker', 'config.json'));
  return out;
}

/** Keys an entry may have for host/repository, most specific first (namespaced keys, then the host, then URL forms). */
function keysFor(host: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let i = parts.length; i >= 1; i--) keys.push(`${host}/${parts.slice(0, i).join('/')}`);
  keys.push(host, `https://${host}`, `http://${host}`);
  if (host === 'docker.io' || host === 'index.docker.io') keys.push('https://index.docker.io/v1/');
  return keys;
}

function decodeAuth(file: string, key: string, v: unknown): Credentials | undefined {
  const auth = (v as { auth?: unknown } | null)?.auth;
  if (typeof auth !== 'string' || auth === '') return undefined;
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon <= 0) throw new FerryError('USAGE', `${file}: the entry for ${key} is not base64 of "user:password": log in again (podman login / skopeo login)`);
  return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
}

/** Credentials for host/repository from the first auth file that has an entry; undefined means anonymous. */
export async function findCredentials(host: string, repository: string, authfile?: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  for (const file of authFiles(authfile, env)) {
    let bytes: Buffer;
    try {
      bytes = await readFileCapped(file, AUTH_CAP, 'auth file');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && authfile === undefined) continue;
      throw new FerryError('USAGE', `auth file ${file} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    const auths = (parseStrictJson(bytes, AUTH_CAP, file) as { auths?: Record<string, unknown> } | null)?.auths ?? {};
    for (const key of keysFor(host, repository)) {
      if (Object.hasOwn(auths, key)) return decodeAuth(file, key, auths[key]);
    }
  }
  return undefined;
}

/** One parsed WWW-Authenticate challenge (RFC 7235): the scheme and its parameters. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse the first challenge of a WWW-Authenticate header; undefined when there is none. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The Basic Authorization header value. */
export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/**
 * A client of the OCI distribution API (distribution-spec, pull side): one request loop that
 * answers auth challenges, follows redirects (to blob storage: the Authorization header
 * stays with the registry), waits out 429s as Retry-After says (bounded), and maps
 * statuses to typed errors. Manifests are read whole under a cap and checked against the
 * digest asked for or announced; blobs stream (blob-stream.ts).
 */
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../../errors.js';
import { sha256Digest } from '../digest.js';
import { basicHeader, type Credentials, findCredentials, parseChallenge } from './auth.js';
import { connectionError, type HttpBody, type HttpMethod, type HttpRequest, Transport, type TransportOptions } from './http.js';
import type { RawConnectOptions } from './raw-get.js';
import type { RegistryRef } from './reference.js';

/** Options of a registry client (`--authfile`, `--tls-verify`, `--cert-dir`). */
export interface RegistryOptions extends TransportOptions {
  authfile?: string;
  /** Longest wait for one Retry-After (seconds) and how many 429s are waited out. */
  maxRetryAfter?: number;
  max429?: number;
}

/** Manifest media types asked for, most wanted first. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const MAX_REDIRECTS = 5;

/** A fetched manifest: its bytes, digest and media type. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** Read a response body whole, refusing it over `cap` bytes (Content-Length first, then as it streams). */
export async function readCapped(res: IncomingMessage, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? -1);
  const tooBig = () => new FerryError('FILE_TOO_LARGE', `${what} is over the ${cap}-byte cap: the registry serves something that is not an image manifest`, { details: { cap } });
  if (declared > cap) {
    res.destroy();
    throw tooBig();
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > cap) {
      res.destroy();
      throw tooBig();
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** The client of one repository on one registry. */
export class RegistryClient {
  private authorization: string | undefined;
  private constructor(
    readonly ref: RegistryRef,
    private readonly transport: Transport,
    private readonly creds: Credentials | undefined,
    private readonly opts: RegistryOptions,
    private readonly base: string,
  ) {}

  /** Open a client: credentials from the auth files, TLS settings, the scheme. */
  static async open(ref: RegistryRef, opts: RegistryOptions = {}): Promise<RegistryClient> {
    const creds = await findCredentials(ref.host, ref.repository, opts.authfile);
    const transport = await Transport.create(opts);
    return new RegistryClient(ref, transport, creds, opts, await transport.base(ref.endpoint));
  }

  /** Headers and TLS settings for a raw GET of `target` (raw-get.ts): the Authorization stays with the registry's own host. */
  rawRequest(target: URL): { headers: Record<string, string>; options: RawConnectOptions } | undefined {
    if (target.protocol === 'http:' && !this.transport.plainAllowed) return undefined;
    const own = target.host === new URL(this.base).host;
    return { headers: own && this.authorization ? { authorization: this.authorization } : {}, options: this.transport.rawOptions() };
  }

  /** Release keep-alive sockets. */
  close(): void {
    this.transport.close();
  }

  /** The URL of a manifest or blob of this repository. */
  url(kind: 'manifests' | 'blobs', reference: string): URL {
    return new URL(`${this.base}/v2/${this.ref.repository}/${kind}/${reference}`);
  }

  /** Answer a 401 challenge: Basic with the stored credentials, or a Bearer token from the realm. */
  private async answer(res: IncomingMessage): Promise<void> {
    const ch = parseChallenge(res.headers['www-authenticate']);
    res.resume();
    if (ch?.scheme === 'basic' && this.creds) {
      this.authorization = basicHeader(this.creds);
      return;
    }
    if (ch?.scheme !== 'bearer' || !ch.params.realm) throw this.unauthorised(res.statusCode!);
    const realm = new URL(ch.params.realm);
    if (ch.params.service) realm.searchParams.set('service', ch.params.service);
    realm.searchParams.set('scope', ch.params.scope ?? `repository:${this.ref.repository}:pull`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.creds) headers.authorization = basicHeader(this.creds);
    const tr = await this.transport.send({ method: 'GET', url: realm, headers }).catch((e: unknown) => {
      throw connectionError(e, realm.host);
    });
    if (tr.statusCode === 401 || tr.statusCode === 403) {
      tr.resume();
      throw this.unauthorised(tr.statusCode);
    }
    if (tr.statusCode !== 200) {
      tr.resume();
      throw new FerryError('REGISTRY_ERROR', `token server ${realm.host} answered HTTP ${tr.statusCode}`, { details: { status: tr.statusCode } });
    }
    let body: { token?: unknown; access_token?: unknown } = {};
    try {
      body = JSON.parse((await readCapped(tr, 1024 * 1024, 'token response')).toString('utf8')) as typeof body;
    } catch (e) {
      if (e instanceof FerryError) throw e;
      // not JSON: reported below as "sent no token"
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new FerryError('REGISTRY_ERROR', `token server ${realm.host} sent no token`);
    this.authorization = `Bearer ${token}`;
  }

  private unauthorised(status: number): FerryError {
    const who = this.creds ? `as ${this.creds.username}` : 'anonymously (no credentials for it in the auth files)';
    return new FerryError('REGISTRY_UNAUTHORIZED', `${this.ref.host}/${this.ref.repository}: access denied ${who} (HTTP ${status}): log in with skopeo login or podman login, or pass --authfile`, { details: { status, host: this.ref.host } });
  }

  /** Wait out a 429 as long as its Retry-After says (bounded); throws once the budget is spent. */
  private async rateLimited(res: IncomingMessage, attempt: number): Promise<void> {
    res.resume();
    const max = this.opts.maxRetryAfter ?? 60;
    const header = res.headers['retry-after'];
    const secs = header === undefined ? 1 : /^\d+$/.test(header) ? Number(header) : Math.max(0, (Date.parse(header) - Date.now()) / 1000);
    if (attempt >= (this.opts.max429 ?? 3) || !(secs <= max)) {
      throw new FerryError('REGISTRY_RATE_LIMITED', `${this.ref.host} refuses more requests for now (HTTP 429, retry after ${header ?? '?'} s): try again later or use a mirror`, { details: { retryAfter: header ?? null } });
    }
    await sleep(secs * 1000);
  }

  /**
   * GET (or HEAD) with auth, redirects and 429 handling; resolves with a 2xx response (body
   * unread). 404 is IMAGE_NOT_FOUND, other failures typed by status.
   */
  async request(method: HttpMethod, url: URL, headers: Record<string, string>, what: string, body?: HttpBody): Promise<IncomingMessage> {
    let target = url;
    let redirects = 0;
    let answered = false;
    for (let attempt = 0; ; ) {
      const own = target.host === url.host;
      const req: HttpRequest = { method, url: target, headers: { ...headers, ...(own && this.authorization ? { authorization: this.authorization } : {}) }, ...(body !== undefined ? { body } : {}) };
      const res = await this.transport.send(req).catch((e: unknown) => {
        throw connectionError(e, target.host);
      });
      const s = res.statusCode ?? 0;
      if (s >= 200 && s < 300) return res;
      if ([301, 302, 303, 307, 308].includes(s) && (method === 'GET' || method === 'HEAD') && res.headers.location && redirects++ < MAX_REDIRECTS) {
        res.resume();
        target = new URL(res.headers.location, target);
      } else if (s === 401 && own && !answered) {
        answered = true;
        await this.answer(res);
      } else if (s === 429) {
        await this.rateLimited(res, attempt++);
      } else {
        throw await this.statusError(res, what);
      }
    }
  }

  private async statusError(res: IncomingMessage, what: string): Promise<FerryError> {
    const s = res.statusCode ?? 0;
    const body = await readCapped(res, 64 * 1024, 'error body').catch(() => Buffer.alloc(0));
    let code = '';
    try {
      code = String((JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] }).errors?.[0]?.code ?? '');
    } catch {
      // not the spec's error JSON: the status says enough
    }
    const name = `${this.ref.host}/${this.ref.repository}`;
    if (s === 404) return new FerryError('IMAGE_NOT_FOUND', `${what} not found in ${name}${code ? ` (${code})` : ''}: check the repository and the tag or digest (skopeo inspect docker://… lists them)`, { details: { status: s, registryCode: code } });
    if (s === 401 || s === 403) return this.unauthorised(s);
    return new FerryError('REGISTRY_ERROR', `${name}: ${what}: the registry answered HTTP ${s}${code ? ` (${code})` : ''}: try again, or ask its operator`, { details: { status: s, registryCode: code } });
  }

  /** Fetch a manifest or index by tag or digest, checked against that digest (or the one the registry announces). */
  async manifest(reference: string, cap: number): Promise<FetchedManifest> {
    const what = `manifest ${reference}`;
    const res = await this.request('GET', this.url('manifests', reference), { accept: MANIFEST_ACCEPT }, what);
    const bytes = await readCapped(res, cap, what);
    const digest = sha256Digest(bytes);
    const expected = reference.startsWith('sha256:') ? reference : (res.headers['docker-content-digest'] as string | undefined);
    if (expected !== undefined && expected !== digest) {
      throw new FerryError('DIGEST_MISMATCH', `${this.ref.host}/${this.ref.repository}: ${what} does not match its digest (expected ${expected}, got ${digest}): the registry or a proxy altered it`, { details: { expected, actual: digest } });
    }
    let mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    try {
      const inner = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
      if (typeof inner === 'string') mediaType = inner;
    } catch {
      // parsed (strictly) by the caller, which reports it
    }
    return { bytes, digest, mediaType };
  }

  /** A GET of a blob, from `offset` on (a Range request); resolves with the response and where its body starts. */
  async blob(digest: string, offset: number): Promise<{ res: IncomingMessage; start: number }> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.request('GET', this.url('blobs', digest), headers, `blob ${digest}`);
    if (res.statusCode === 206) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      return { res, start: m ? Number(m[1]) : offset };
    }
    return { res, start: 0 };
  }
}

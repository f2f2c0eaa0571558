/**
 * The HTTP transport of the registry client, on node:http/https rather than the global
 * fetch: fetch (undici) takes a per-request CA only through undici's own Agent, which Node
 * does not expose, and a `--cert-dir` CA must not be added process-wide. TLS trusts the
 * system store, Node's bundled roots and the CA files of `--cert-dir`; plain HTTP is used
 * only with `--tls-verify=false`, and only when the registry does not speak TLS (skopeo's rule).
 */
import * as fsp from 'node:fs/promises';
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import * as tls from 'node:tls';
import { FerryError } from '../../errors.js';
import { readFileCapped } from '../../util/fsx.js';
import type { RawConnectOptions } from './raw-get.js';

/** How to reach a registry (`--tls-verify`, `--cert-dir`). */
export interface TransportOptions {
  tlsVerify?: boolean;
  certDir?: string;
}

/** HTTP methods of the distribution API. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';

/**
 * A body that writes itself: `pump` calls `write` for each buffer in order and may reuse a
 * buffer once its write has resolved (the socket has it); a throw aborts the request.
 */
export interface BodyPump {
  pump(write: (buf: Buffer) => Promise<void>): Promise<void>;
}

/** A request body: bytes, or a fresh stream or pump each time it is sent (a retry after a challenge sends it again). */
export type HttpBody = Buffer | (() => Readable | BodyPump);

/** The request was answered before its body was sent (a 401 or 413 from the registry or a proxy): stop sending. */
const ANSWERED = new Error('answered before the body was sent');

/** Run `p` into the request `r`: end it after the last write, destroy it with the pump's error. */
function pumpInto(r: Http.ClientRequest, p: BodyPump): void {
  let stop: Error | undefined;
  const waiting = new Set<(e: Error) => void>();
  const halt = (e: Error): void => {
    stop ??= e;
    for (const w of waiting) w(e);
    waiting.clear();
  };
  r.once('response', () => halt(ANSWERED));
  r.once('error', halt);
  r.once('close', () => halt(Object.assign(new Error('the connection closed mid-body'), { code: 'ECONNRESET' })));
  const write = (buf: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (stop) return reject(stop);
      waiting.add(reject);
      r.write(buf, (e) => {
        waiting.delete(reject);
        if (e) reject(e);
        else resolve();
      });
    });
  p.pump(write).then(
    () => void (stop ?? r.end()),
    (e: unknown) => void (e === ANSWERED || stop ? undefined : r.destroy(e as Error)),
  );
}

/** A request as the client sends it. */
export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body?: HttpBody;
}

/** Connection failures a retry may cure (the registry is up but the connection broke). */
export function isTransient(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNREFUSED' || code === 'UND_ERR_SOCKET';
}

const CA_CAP = 1024 * 1024;
const TIMEOUT_MS = 60_000;

/** CA certificates of a cert-dir: ca.crt and every *.crt (containers-certs.d(5)). */
async function certDirCAs(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    throw new FerryError('USAGE', `--cert-dir ${dir} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const out: string[] = [];
  for (const n of names.filter((n) => n.endsWith('.crt')).sort()) out.push((await readFileCapped(path.join(dir, n), CA_CAP, `CA file ${n}`)).toString('utf8'));
  return out;
}

/** One registry host's connection settings: agent with its CA list, and the scheme once known. */
export class Transport {
  private scheme: 'https:' | 'http:' = 'https:';
  private probed = false;

  private constructor(
    private readonly http: typeof Http,
    private readonly https: typeof Https,
    private readonly agent: Https.Agent,
    private readonly verify: boolean,
    private readonly ca: string[] | undefined,
  ) {}

  /** The same TLS settings for a socket of its own (raw-get.ts). */
  rawOptions(): RawConnectOptions {
    return { ...(this.ca ? { ca: this.ca } : {}), rejectUnauthorized: this.verify, timeoutMs: TIMEOUT_MS };
  }

  /** True when plain HTTP may be used (`--tls-verify=false`). */
  get plainAllowed(): boolean {
    return !this.verify;
  }

  /** Build the transport: system + bundled roots + cert-dir CAs; no CA list at all without verification. */
  static async create(opts: TransportOptions): Promise<Transport> {
    const verify = opts.tlsVerify ?? true;
    // loaded here, not at the top, and not by import(): an ESM import of node:http evaluates every
    // export, fetch's undici among them (~80 ms of CPU, more under load); the builtin itself does not need it
    const http = process.getBuiltinModule('node:http');
    const https = process.getBuiltinModule('node:https');
    // reading the system store costs ~100 ms: only when certificates are checked at all
    const ca = verify ? [...new Set([...tls.getCACertificates('default'), ...tls.getCACertificates('system'), ...(opts.certDir ? await certDirCAs(opts.certDir) : [])])] : undefined;
    const agent = new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}), rejectUnauthorized: verify });
    return new Transport(http, https, agent, verify, ca);
  }

  /** The base URL of a registry host, after finding out (once, without verification) whether it speaks TLS. */
  async base(host: string): Promise<string> {
    if (!this.verify && !this.probed) {
      this.probed = true;
      await this.send({ method: 'GET', url: new URL(`https://${host}/v2/`), headers: {} }).then(
        (r) => r.resume(),
        (e: unknown) => {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          // a plain-HTTP server answers a TLS hello with garbage (EPROTO) or hangs up
          if (code === 'EPROTO' || code === 'ECONNRESET' || code.startsWith('ERR_SSL')) this.scheme = 'http:';
        },
      );
    }
    return `${this.scheme}//${host}`;
  }

  /** Send one request; resolves with the response (body unread), rejects with the socket error. */
  send(req: HttpRequest): Promise<Http.IncomingMessage> {
    const mod = req.url.protocol === 'http:' ? this.http : this.https;
    if (req.url.protocol === 'http:' && this.verify) {
      return Promise.reject(new FerryError('REGISTRY_TLS', `${req.url.host} is reached over plain HTTP (${req.url.href}): pass --tls-verify=false only for a registry you trust on a private network`));
    }
    return new Promise((resolve, reject) => {
      const r = mod.request(req.url, { method: req.method, headers: req.headers, ...(mod === this.https ? { agent: this.agent } : {}), timeout: TIMEOUT_MS }, resolve);
      r.on('timeout', () => r.destroy(Object.assign(new Error(`no answer from ${req.url.host} in ${TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
      r.on('error', reject);
      if (req.body === undefined) r.end();
      else if (Buffer.isBuffer(req.body)) r.end(req.body);
      else {
        const src = req.body();
        if ('pump' in src) return pumpInto(r, src);
        src.on('error', (e) => r.destroy(e));
        src.pipe(r);
      }
    });
  }

  /** Close idle keep-alive sockets (so the process can exit). */
  close(): void {
    this.agent.destroy();
  }
}

/** A socket or TLS failure as a typed error. */
export function connectionError(e: unknown, host: string): FerryError {
  if (e instanceof FerryError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  const why = err.message.replace(/\s+/g, ' ').trim(); // OpenSSL's messages end in a newline: ferry's stay one line
  if (code === 'EPROTO' || code.startsWith('ERR_SSL')) {
    return new FerryError('REGISTRY_TLS', `${host} does not answer TLS (${why}): a plain-HTTP registry needs --tls-verify=false, only on a private network you trust`, { cause: e, details: { host, errno: code } });
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/.test(code)) {
    return new FerryError('REGISTRY_TLS', `${host}: its TLS certificate is not trusted (${why}): put its CA as ca.crt into a folder and pass --cert-dir`, { cause: e, details: { host, errno: code } });
  }
  return new FerryError('REGISTRY_UNREACHABLE', `${host} cannot be reached (${why}): check the host name, port and network`, { cause: e, details: { host, errno: code } });
}

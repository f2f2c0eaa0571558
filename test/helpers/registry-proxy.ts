/**
 * Test helper: a small fault-injecting HTTP proxy in front of the test registry (plain
 * HTTP), for the registry that lies, drops and rate-limits: it forwards every request and,
 * as `faults` says, answers 429s, alters or lengthens a blob, cuts a blob's connection
 * after some bytes, inflates a manifest, redirects blobs to "storage" on another host
 * name, or refuses large request bodies (413). It logs every request it sees; the
 * registry's upload Locations name the proxy (X-Forwarded-Host), so a push stays on it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does wrong; change the fields between tests. */
export interface Faults {
  /** Answer this many requests with 429 (then forward), with this Retry-After. */
  tooMany?: { count: number; retryAfter: string };
  /** Flip one byte of this blob's body (same length). */
  corruptBlob?: string;
  /** Send this blob with extra bytes appended. */
  extendBlob?: string;
  /** Cut the connection after `after` bytes of this blob's body, `times` times. */
  dropBlob?: { digest: string; after: number; times: number };
  /** Serve manifests with bytes changed (the digest header kept). */
  alterManifest?: boolean;
  /** Serve manifests padded to this many bytes. */
  hugeManifest?: number;
  /** Redirect blob GETs to http://localhost:PORT/storage/… (another host name). */
  redirectBlobs?: boolean;
  /** Refuse requests whose body is over this many bytes with 413 (a proxy's body limit). */
  bodyLimit?: number;
  /** The storage's own credentials for the registry behind (as a pre-signed URL carries them): added to /storage/ requests. */
  storageAuth?: string;
}

/** One request the proxy saw. */
export interface SeenRequest {
  method: string;
  path: string;
  host: string;
  range?: string;
  contentRange?: string;
  authorization?: string;
}

/** A running proxy. */
export interface FaultProxy {
  host: string;
  port: number;
  faults: Faults;
  seen: SeenRequest[];
  close(): Promise<void>;
}

function blobDigest(p: string): string | undefined {
  return /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(p.split('?')[0]!)?.[1];
}

/** Start a proxy to the registry at `upstream` (host:port). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const faults: Faults = {};
  const seen: SeenRequest[] = [];
  let port = 0;
  const srv = http.createServer((req, res) => {
    const p = req.url ?? '/';
    const cr = req.headers['content-range'];
    seen.push({ method: req.method ?? 'GET', path: p, host: req.headers.host ?? '', ...(req.headers.range ? { range: req.headers.range } : {}), ...(cr ? { contentRange: cr } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (faults.bodyLimit !== undefined && Number(req.headers['content-length'] ?? 0) > faults.bodyLimit) {
      req.resume();
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('request entity too large');
      return;
    }
    if (faults.tooMany && faults.tooMany.count > 0) {
      faults.tooMany.count--;
      res.writeHead(429, { 'retry-after': faults.tooMany.retryAfter, 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      return;
    }
    const digest = blobDigest(p);
    let upstreamPath = p;
    if (p.startsWith('/storage/')) upstreamPath = p.slice('/storage'.length);
    else if (digest && faults.redirectBlobs) {
      res.writeHead(307, { location: `http://localhost:${port}/storage${p}` }).end();
      return;
    }
    const storage = p.startsWith('/storage/') && faults.storageAuth ? { authorization: faults.storageAuth } : {};
    const up = http.request({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: upstreamPath, headers: { ...req.headers, host: upstream, 'x-forwarded-host': req.headers.host ?? upstream, ...storage } }, (ur) => {
      const manifest = /\/manifests\//.test(p) && ur.statusCode === 200;
      if (manifest && (faults.alterManifest || faults.hugeManifest)) {
        const parts: Buffer[] = [];
        ur.on('data', (c: Buffer) => parts.push(c));
        ur.on('end', () => {
          let body = Buffer.concat(parts);
          if (faults.hugeManifest) body = Buffer.concat([body, Buffer.alloc(faults.hugeManifest - body.length, 0x20)]);
          else body = Buffer.from(body.toString('utf8').replace('{', '{ '));
          res.writeHead(200, { ...ur.headers, 'content-length': String(body.length) }).end(body);
        });
        return;
      }
      const headers = { ...ur.headers };
      const drop = digest && faults.dropBlob?.digest === digest && faults.dropBlob.times > 0 ? faults.dropBlob : undefined;
      if (drop) drop.times--;
      const extend = digest !== undefined && faults.extendBlob === digest;
      if (extend) headers['content-length'] = String(Number(headers['content-length']) + 7);
      res.writeHead(ur.statusCode ?? 502, headers);
      let sent = 0;
      let cut = false;
      ur.on('data', (c: Buffer) => {
        if (cut) return;
        let chunk = c;
        if (digest && faults.corruptBlob === digest && sent === 0) {
          chunk = Buffer.from(c);
          chunk[0] = chunk[0]! ^ 0xff;
        }
        if (drop && sent + chunk.length > drop.after) {
          cut = true;
          ur.destroy();
          // the bytes before the cut reach the client, then the connection dies mid-body
          res.write(chunk.subarray(0, Math.max(0, drop.after - sent)), () => setTimeout(() => res.socket?.destroy(), 20));
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      ur.on('end', () => {
        if (!cut) res.end(extend ? Buffer.from('garbage') : undefined);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  port = (srv.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    faults,
    seen,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

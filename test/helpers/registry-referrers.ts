/**
 * Test helper: the referrers API (distribution-spec 1.1, "Listing Referrers") in front of
 * a real docker-registry 2.8, which lacks it. Every request is forwarded; a manifest PUT
 * whose body has a `subject` is remembered and answered with `OCI-Subject: <subject digest>`
 * (the sign that the registry keeps referrers itself), and
 * GET /v2/<name>/referrers/<digest>[?artifactType=…] answers an image index of the
 * referrers' descriptors (mediaType, digest, size, artifactType, annotations), filtered
 * with `OCI-Filters-Applied: artifactType`. Upload Locations name this proxy
 * (X-Forwarded-Host). It logs every request (method and path).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A referrer as the API lists it. */
interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A running referrers proxy. */
export interface ReferrersProxy {
  host: string;
  /** "METHOD path" of every request seen. */
  seen: string[];
  close(): Promise<void>;
}

function body(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** The referrer descriptor of a manifest with a subject, or undefined (pure). */
function referrerOf(bytes: Buffer, mediaType: string): { subject: string; ref: Referrer } | undefined {
  let m: { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
  try {
    m = JSON.parse(bytes.toString('utf8')) as typeof m;
  } catch {
    return undefined;
  }
  if (typeof m.subject?.digest !== 'string') return undefined;
  const ref: Referrer = { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
  // image-spec 1.1: artifactType, else the config's media type
  const artifactType = m.artifactType ?? m.config?.mediaType;
  if (artifactType) ref.artifactType = artifactType;
  if (m.annotations) ref.annotations = m.annotations;
  return { subject: m.subject.digest, ref };
}

/** Start the proxy in front of the registry at `upstream` (host:port, plain HTTP). */
export async function startReferrersProxy(upstream: string): Promise<ReferrersProxy> {
  const seen: string[] = [];
  const referrers = new Map<string, Referrer[]>();
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, payload: Buffer | undefined, extra: Record<string, string> = {}, onStored?: () => void) => {
    const up = http.request({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: upstream, 'x-forwarded-host': req.headers.host ?? upstream } }, (ur) => {
      const ok = (ur.statusCode ?? 500) < 300;
      if (ok) onStored?.();
      res.writeHead(ur.statusCode ?? 502, { ...ur.headers, ...(ok ? extra : {}) });
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (payload) up.end(payload);
    else req.pipe(up);
  };
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    seen.push(`${req.method} ${url.pathname}`);
    const list = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (list && req.method === 'GET') {
      const want = url.searchParams.get('artifactType');
      const all = referrers.get(`${list[1]}@${list[2]}`) ?? [];
      const manifests = want ? all.filter((r) => r.artifactType === want) : all;
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': String(index.length), ...(want ? { 'oci-filters-applied': 'artifactType' } : {}) }).end(index);
      return;
    }
    const put = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname);
    if (put && req.method === 'PUT') {
      void body(req).then((bytes) => {
        const found = referrerOf(bytes, String(req.headers['content-type'] ?? ''));
        if (!found) return forward(req, res, bytes);
        const key = `${put[1]}@${found.subject}`;
        // listed once the registry stored it
        forward(req, res, bytes, { 'oci-subject': found.subject }, () => {
          const known = referrers.get(key) ?? [];
          if (!known.some((r) => r.digest === found.ref.digest)) referrers.set(key, [...known, found.ref]);
        });
      });
      return;
    }
    forward(req, res, undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

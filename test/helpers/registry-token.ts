/**
 * Test helper: a small bearer-token server for the test registry (distribution's token
 * auth): GET /token?service=…&scope=repository:NAME:ACTIONS with Basic credentials answers
 * a JWT (RS256, its certificate in the x5c header, which the registry checks against its
 * rootcertbundle). Anonymous callers get a token with no access, as real token servers do.
 */
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running token server. */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** Token requests seen (with or without credentials). */
  requests: Array<{ scope: string; user: string | undefined }>;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Start the token server (over HTTPS with `tls`: credentials never go out in clear next to a TLS registry); writes `token.crt` (the registry's rootcertbundle) into `dir`. */
export async function startTokenServer(dir: string, user: string, password: string, tls?: { cert: string; key: string }): Promise<TokenServer> {
  const key = path.join(dir, 'token.key');
  const crt = path.join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ferry test token issuer', '-keyout', key, '-out', crt]);
  const privateKey = crypto.createPrivateKey(await fsp.readFile(key));
  const der = new crypto.X509Certificate(await fsp.readFile(crt)).raw;
  const service = 'ferry-test-registry';
  const issuer = 'ferry-test-issuer';
  const requests: TokenServer['requests'] = [];
  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [u, p] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    const scope = url.searchParams.get('scope') ?? '';
    requests.push({ scope, user: u });
    if (basic && (u !== user || p !== password)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
      return;
    }
    const [type, name, actions] = scope.split(':');
    const access = basic && type && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: u ?? '', aud: url.searchParams.get('service'), exp: now + 600, nbf: now - 60, iat: now, jti: crypto.randomUUID(), access }));
    const sig = b64url(crypto.sign('sha256', Buffer.from(`${header}.${claims}`), privateKey));
    const token = `${header}.${claims}.${sig}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 600 }));
  };
  const srv = tls ? https.createServer({ cert: await fsp.readFile(tls.cert), key: await fsp.readFile(tls.key) }, handler) : http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    realm: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/token`,
    service,
    issuer,
    requests,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

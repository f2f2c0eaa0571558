/**
 * Shared test helper: a real registry (Debian's docker-registry, the CNCF distribution
 * server) started on 127.0.0.1 on a free port with its own config and storage in a temp
 * dir (never the system service), optionally with TLS (a test CA made by openssl; its
 * ca.crt sits in `certDir`), htpasswd basic auth, or bearer tokens from a small token
 * server run here. `stop()` ends the process and removes the dir. Images go in with skopeo.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTokenServer, type TokenServer } from './registry-token.js';

const run = promisify(execFile);

/** Test registry credentials (written only to the temp auth.json). */
export const REGISTRY_USER = 'ferry';
export const REGISTRY_PASSWORD = 'registry-test-secret';

/** What a test registry offers. */
export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  dir: string;
  /** A folder with ca.crt (TLS only). */
  certDir?: string;
  /** auth.json holding the test credentials (auth only). */
  authFile?: string;
  /** Options for ferry's registry client. */
  clientOptions: { tlsVerify: boolean; certDir?: string; authfile?: string };
  /** The token server (token auth only): its log of token requests. */
  token?: TokenServer;
  /** skopeo options for pushing to it. */
  skopeoDest: string[];
  stop(): Promise<void>;
}

/** Options of startRegistry. */
export interface RegistryOptions {
  tls?: boolean;
  auth?: 'htpasswd' | 'token';
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A test CA and a server certificate for 127.0.0.1, made with openssl; returns the PEM paths. */
export async function makeTestCa(dir: string, cn = 'ferry test registry'): Promise<{ ca: string; cert: string; key: string }> {
  const p = (n: string) => path.join(dir, n);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ferry test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', p('server.key'), '-out', p('server.csr')]);
  await fsp.writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('ext.cnf'), '-out', p('server.crt')]);
  return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

function authSection(opts: RegistryOptions, dir: string, htpasswd: string, token: TokenServer | undefined): string {
  if (opts.auth === 'htpasswd') return `auth:\n  htpasswd:\n    realm: ferry-test\n    path: ${htpasswd}\n`;
  if (opts.auth === 'token') return `auth:\n  token:\n    realm: ${token!.realm}\n    service: ${token!.service}\n    issuer: ${token!.issuer}\n    rootcertbundle: ${path.join(dir, 'token.crt')}\n`;
  return '';
}

/** Poll /v2/ until the registry answers (any status), or fail after 20 s. */
async function waitReady(host: string, tls: boolean, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${await fsp.readFile(log, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const mod = tls ? https : http;
      const r = mod.get(`${tls ? 'https' : 'http'}://${host}/v2/`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry on ${host} did not answer in 20 s: ${await fsp.readFile(log, 'utf8')}`);
}

/** Start a registry for one test file; call stop() in afterAll. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let tlsSection = '';
  let certDir: string | undefined;
  let pem: { ca: string; cert: string; key: string } | undefined;
  if (opts.tls) {
    certDir = path.join(dir, 'certs');
    await fsp.mkdir(certDir);
    pem = await makeTestCa(path.join(dir));
    await fsp.copyFile(pem.ca, path.join(certDir, 'ca.crt'));
    tlsSection = `  tls:\n    certificate: ${pem.cert}\n    key: ${pem.key}\n`;
  }
  const htpasswd = path.join(dir, 'htpasswd');
  let token: TokenServer | undefined;
  if (opts.auth === 'htpasswd') await fsp.writeFile(htpasswd, (await run('htpasswd', ['-Bbn', REGISTRY_USER, REGISTRY_PASSWORD])).stdout);
  if (opts.auth === 'token') token = await startTokenServer(dir, REGISTRY_USER, REGISTRY_PASSWORD, pem);
  const cfg = path.join(dir, 'config.yml');
  await fsp.writeFile(
    cfg,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'storage')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${tlsSection}${authSection(opts, dir, htpasswd, token)}`,
  );
  const log = path.join(dir, 'registry.log');
  const child = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'ignore', openSync(log, 'w')] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // a test process that dies without stop() must not leave a registry behind
  const orphan = () => child.kill('SIGTERM');
  process.once('exit', orphan);
  const stop = async () => {
    process.removeListener('exit', orphan);
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await token?.close();
    await fsp.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(host, opts.tls ?? false, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  let authFile: string | undefined;
  if (opts.auth) {
    authFile = path.join(dir, 'auth.json');
    await fsp.writeFile(authFile, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64') } } }));
  }
  const clientOptions = { tlsVerify: opts.tls ?? false, ...(certDir ? { certDir } : {}), ...(authFile ? { authfile: authFile } : {}) };
  const skopeoDest = [...(certDir ? ['--dest-cert-dir', certDir] : ['--dest-tls-verify=false']), ...(authFile ? ['--dest-authfile', authFile] : [])];
  return { host, dir, ...(certDir ? { certDir } : {}), ...(authFile ? { authFile } : {}), ...(token ? { token } : {}), clientOptions, skopeoDest, stop };
}

/** skopeo copy `src` (an oci:/oci-archive: name) to REPO:TAG in the registry; `all` copies a whole index; `extra` e.g. --format v2s2. */
export async function pushImage(reg: TestRegistry, src: string, repoTag: string, all = false, extra: string[] = []): Promise<void> {
  await run('skopeo', ['copy', '--quiet', ...(all ? ['--all'] : []), ...extra, ...reg.skopeoDest, src, `docker://${reg.host}/${repoTag}`], { maxBuffer: 1024 * 1024 });
}

/** skopeo inspect --raw of a registry image (the manifest bytes as served). */
export async function inspectRaw(reg: TestRegistry, repoTag: string): Promise<string> {
  const src = reg.certDir ? ['--cert-dir', reg.certDir] : ['--tls-verify=false'];
  const auth = reg.authFile ? ['--authfile', reg.authFile] : [];
  return (await run('skopeo', ['inspect', '--raw', ...src, ...auth, `docker://${reg.host}/${repoTag}`])).stdout;
}

/**
 * Test helper: turn a good stick into one with a special file or a link where ferry reads
 * (finding 2 of issue 9). FIFOs, sockets and device nodes are made with the real tools
 * (mkfifo, mknod as root, a bound unix socket); a read that would hang is turned into a
 * failure by `within`, and `unblockFifos` opens every FIFO for writing so a reader stuck in
 * open() on today's code is released instead of pinning a libuv thread for ever.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** What replaces the file or folder at a place. */
export type Special = 'fifo' | 'socket' | 'chardev' | 'symlink-canary' | 'dir-symlink';

/** Where ferry reads on a stick, relative to the media root (blobs named by role, resolved per stick). */
export type Place =
  | 'FERRY'
  | 'FERRY/oci'
  | 'FERRY/oci/blobs'
  | 'FERRY/oci/blobs/sha256'
  | 'FERRY/oci/oci-layout'
  | 'FERRY/oci/index.json'
  | 'manifest-blob'
  | 'config-blob'
  | 'layer-blob'
  | 'FERRY/updates'
  | 'FERRY/updates/kiosk-1.0.0.json'
  | 'FERRY/updates/kiosk-1.0.0.json.p7s'
  | 'FERRY/trust'
  | 'FERRY/trust/crl.pem'
  | 'FERRY/trust/roots'
  | 'FERRY/trust/roots/cross.pem';

/** The device-local file a symlinked blob points at: its bytes must never be read. */
export const CANARY_TEXT = 'root:$6$canary-shadow-hash:19000:0:99999:7:::\n';

/** Blob paths of the stick's only image. */
export function blobPaths(media: string): Record<'manifest-blob' | 'config-blob' | 'layer-blob', string> {
  const oci = path.join(media, 'FERRY', 'oci');
  const blob = (d: string) => path.join(oci, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(fs.readFileSync(path.join(oci, 'index.json'), 'utf8'));
  const m = index.manifests[0].digest as string;
  const manifest = JSON.parse(fs.readFileSync(blob(m), 'utf8'));
  return { 'manifest-blob': blob(m), 'config-blob': blob(manifest.config.digest), 'layer-blob': blob(manifest.layers[0].digest) };
}

/** The absolute path of a place on `media`. */
export function placePath(media: string, place: Place): string {
  if (place === 'manifest-blob' || place === 'config-blob' || place === 'layer-blob') return blobPaths(media)[place];
  return path.join(media, place);
}

/** Make sure trust/crl.pem and trust/roots/cross.pem exist, so the trust places have something to replace. */
export async function addTrustFiles(media: string, certPem: string): Promise<void> {
  await fsp.mkdir(path.join(media, 'FERRY', 'trust', 'roots'), { recursive: true });
  await fsp.writeFile(path.join(media, 'FERRY', 'trust', 'roots', 'cross.pem'), certPem);
  await fsp.writeFile(path.join(media, 'FERRY', 'trust', 'crl.pem'), '');
}

const servers: net.Server[] = [];

/** Replace `file` by `special`; returns the path made. Folders are moved aside and linked to (same content, wrong kind). */
export async function plant(file: string, special: Special, canary: string): Promise<string> {
  if (special === 'dir-symlink') {
    const real = `${file}.real-elsewhere`;
    await fsp.rename(file, real);
    await fsp.symlink(real, file);
    return file;
  }
  await fsp.rm(file, { recursive: true, force: true });
  if (special === 'fifo') execFileSync('mkfifo', [file]);
  else if (special === 'chardev') execFileSync('mknod', [file, 'c', '1', '5']); // /dev/zero
  else if (special === 'symlink-canary') await fsp.symlink(canary, file);
  else {
    // bound at a short path (sun_path holds 108 bytes), then moved into place: it stays a socket
    const short = path.join(os.tmpdir(), `ferry-io-sock-${process.pid}-${servers.length}`);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(short, resolve));
    servers.push(server);
    await fsp.rename(short, file);
  }
  return file;
}

/** Close the unix sockets made by plant. */
export async function closeSockets(): Promise<void> {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
}

/** Open every FIFO under `dir` for writing once, so readers blocked in open() (today's code) return. */
export function unblockFifos(dir: string): void {
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFIFO()) {
        try {
          fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
        } catch {
          // ENXIO: nobody is reading it
        }
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
}

/** `p`, or a rejection "hung" after `ms`: a hang is reported as a failure, not a stuck suite. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`hung for ${ms} ms`), { code: 'HUNG' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

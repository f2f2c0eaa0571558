/**
 * Test helper: real signed sticks for device tests. One throwaway PKI (root + code
 * signer, made with ferry's own pki) and the sample images (1.0.0, 1.1.0) are built
 * once per test file; `makeStick` exports chosen releases with exportImage and signs
 * them with publishUpdate, exactly as headquarters would.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportImage } from '../../src/media/export.js';
import { publishUpdate } from '../../src/media/publish.js';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { buildSamplesInTemp, type SampleImages } from './samples.js';

/** One release to put on a stick. */
export interface Release {
  /** Which sample image: 1.0.0 (v1) or 1.1.0 (v2). */
  image: 'v1' | 'v2';
  version: string;
  counter: number;
  compatible?: string[];
  /** Sign with this signer folder instead of the kit's signer. */
  signerDir?: string;
  /** Target name (default kiosk). */
  target?: string;
  /** Earlier target names this one replaces (signed target.replaces). */
  replaces?: string[];
  /** An image input name instead of a sample (e.g. rootfs:DIR). */
  input?: string;
  /** Re-encode layers (export --compress). */
  compress?: 'keep' | 'gzip' | 'zstd' | 'none';
  /** Sign this unpackedBytes instead of the measured one (null: leave it out). */
  unpackedBytes?: number | null;
  /** Sign without pinning the chunk index (media as an older ferry made them). */
  noChunkIndex?: boolean;
  /** Also put the image's file index on the stick (export --file-index). */
  fileIndex?: boolean;
}

/** The PKI and samples shared by a test file. */
export interface StickKit {
  dir: string;
  samples: SampleImages & { dir: string };
  rootCert: string;
  /** The root CA folder (key.pem, cert.pem), for issuing and revoking. */
  rootDir: string;
  signerDir: string;
  /** Export and sign releases onto a new stick; returns its media root. */
  makeStick(releases: Release[]): Promise<string>;
  /** Put the root certificate into a device trust dir (roots/root.pem). */
  installTrust(trustDir: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Build the kit (a few seconds: two RSA keys, two images). */
export async function makeStickKit(): Promise<StickKit> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-stickkit-'));
  const samples = await buildSamplesInTemp();
  await initRoot({ out: path.join(dir, 'root'), name: 'ferry test root' });
  const signerDir = path.join(dir, 'signer');
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'ferry test signer', days: 30, out: signerDir });
  let n = 0;
  const kit: StickKit = {
    dir,
    samples,
    rootCert: path.join(dir, 'root', 'cert.pem'),
    rootDir: path.join(dir, 'root'),
    signerDir,
    async makeStick(releases) {
      const media = path.join(dir, `stick-${++n}`);
      await fsp.mkdir(media);
      for (const r of releases) {
        const target = r.target ?? 'kiosk';
        const image = r.input ?? (r.image === 'v1' ? samples.v1 : samples.v2);
        const ex = await exportImage({ image, target, version: r.version, mediaRoot: media, ...(r.compress ? { compress: r.compress } : {}), ...(r.fileIndex ? { fileIndex: true } : {}) });
        const unpacked = r.unpackedBytes === null ? undefined : (r.unpackedBytes ?? ex.unpackedBytes);
        await publishUpdate({
          mediaRoot: media,
          target,
          version: r.version,
          manifest: ex.manifest,
          platform: ex.platform,
          payloadBytes: ex.payloadBytes,
          chunkIndex: r.noChunkIndex ? null : ex.chunkIndex,
          ...(ex.fileIndex ? { fileIndex: ex.fileIndex } : {}),
          ...(r.replaces ? { replaces: r.replaces } : {}),
          ...(unpacked !== undefined ? { unpackedBytes: unpacked } : {}),
          signerDir: r.signerDir ?? signerDir,
          compatible: r.compatible ?? ['acme,kiosk-v2'],
          counter: r.counter,
          expires: '30',
        });
      }
      return media;
    },
    async installTrust(trustDir) {
      await fsp.mkdir(path.join(trustDir, 'roots'), { recursive: true });
      await fsp.copyFile(path.join(dir, 'root', 'cert.pem'), path.join(trustDir, 'roots', 'root.pem'));
    },
    async cleanup() {
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.rm(samples.dir, { recursive: true, force: true });
    },
  };
  return kit;
}

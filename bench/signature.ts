/**
 * Signature verification alone: µs per update manifest with ferry's verifier
 * (in-process loop, bench/sig-loop.ts) vs `openssl cms -verify` (one process per
 * manifest, which is how a shell-script updater would call it). The manifest and its
 * detached CMS signature are made by openssl with a throwaway RSA-3072 root and
 * code-signing signer, so the row also shows ferry verifying stock OpenSSL output.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryArgv, ferryDist } from './ferry.js';
import { measure, runChecked, type Sample } from './proc.js';
import { measured, median, type Outcome, type Row } from './report.js';
import { RSS_TARGET_MIB } from './ops.js';

/** Measure signature verification; `iterations` per ferry run, `runs` runs per side. */
export async function signatureRows(workdir: string, iterations: number, runs: number, log: (s: string) => void): Promise<Row[]> {
  const main = await signatureRow(workdir, iterations, runs, log);
  return [main, ...(await trustScenarioRows(main, iterations, runs, log))];
}

/**
 * The trust engineer's scenarios (bench/verify-signature.ts: ferry-made CMS, one signer,
 * via an intermediate, 2-of-n), each as a row against the same openssl peer.
 */
async function trustScenarioRows(main: Row, iterations: number, runs: number, log: (s: string) => void): Promise<Row[]> {
  const script = join(ferryDist(), 'bench', 'verify-signature.js');
  if (!existsSync(script)) return [];
  const per = new Map<string, Sample[]>();
  try {
    for (let i = 0; i < runs; i++) {
      const out = join(tmpdir(), `ferry-bench-vs-${process.pid}-${i}.jsonl`);
      const s = await measure(['sh', '-c', `"$0" "$1" "$2" > "$3"`, ferryArgv()[0] as string, script, String(iterations), out]);
      for (const line of (await readFile(out, 'utf8')).trim().split('\n')) {
        const r = JSON.parse(line) as { scenario: string; perOpUs: number };
        per.set(r.scenario, [...(per.get(r.scenario) ?? []), { wallSec: r.perOpUs / 1e6, maxRssKiB: s.maxRssKiB }]);
      }
      await rm(out, { force: true });
    }
  } catch (e) {
    log(`  signature scenarios (bench/verify-signature.ts) failed: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
  return [...per.entries()].map(([scenario, samples]) => ({
    ...main,
    op: `signature verification: ${scenario}`,
    ferry: measured(samples),
    notes: 'CMS made by ferry (bench/verify-signature.ts); ferry in-process, openssl includes process start',
  }));
}

async function signatureRow(workdir: string, iterations: number, runs: number, log: (s: string) => void): Promise<Row> {
  const dir = join(workdir, 'signature');
  const files = await makeSignedManifest(dir);
  const loop = join(ferryDist(), 'bench', 'sig-loop.js');
  const ferry = existsSync(loop) ? await ferrySide(loop, files, iterations, runs) : { kind: 'not-run' as const, reason: 'ferry: not built (run tsc)' };
  const peerSamples: Sample[] = [];
  for (let i = 0; i < Math.max(runs, 5); i++) {
    peerSamples.push(await measure(['openssl', 'cms', '-verify', '-binary', '-inform', 'DER', '-in', files.sig, '-content', files.manifest, '-CAfile', files.root, '-purpose', 'any', '-out', '/dev/null']));
  }
  log(`  signature: ferry ${ferry.kind === 'measured' ? `${(ferry.medianSec * 1e6).toFixed(0)} µs` : ferry.reason}, openssl ${(median(peerSamples.map((s) => s.wallSec)) * 1e3).toFixed(1)} ms`);
  return {
    op: 'signature verification (per manifest, openssl-made CMS)',
    size: '1 manifest',
    inputBytes: 0,
    ferry,
    peer: { name: 'openssl cms -verify (process)', outcome: measured(peerSamples) },
    target: { maxMs: 20, maxRssMiB: RSS_TARGET_MIB },
    notes: 'RSA-3072 signer + root, chain embedded; ferry in-process, openssl includes process start',
  };
}

async function ferrySide(loop: string, f: SignedFiles, iterations: number, runs: number): Promise<Outcome> {
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const out = join(f.dir, `loop-${i}.json`);
      const s = await measure(['sh', '-c', `"$0" "$1" "$2" "$3" "$4" "$5" > "$6"`, ferryArgv()[0] as string, loop, f.manifest, f.sig, f.root, String(iterations), out]);
      const r = JSON.parse(await readFile(out, 'utf8')) as { perOpUs: number };
      samples.push({ wallSec: r.perOpUs / 1e6, maxRssKiB: s.maxRssKiB });
    }
  } catch (e) {
    return { kind: 'not-run', reason: `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
  }
  return measured(samples);
}

interface SignedFiles { dir: string; manifest: string; sig: string; root: string }

async function makeSignedManifest(dir: string): Promise<SignedFiles> {
  await mkdir(dir, { recursive: true });
  const p = (n: string) => join(dir, n);
  const files = { dir, manifest: p('bench-1.0.0.json'), sig: p('bench-1.0.0.json.p7s'), root: p('root.pem') };
  if (existsSync(files.sig)) return files;
  await writeFile(p('root.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  await writeFile(p('signer.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await runChecked('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-keyout', p('root.key'), '-out', files.root, '-subj', '/CN=ferry bench root', '-days', '3650', '-config', p('root.cnf'), '-extensions', 'ext']);
  await runChecked('openssl', ['req', '-new', '-newkey', 'rsa:3072', '-nodes', '-keyout', p('signer.key'), '-out', p('signer.csr'), '-subj', '/CN=ferry bench signer']);
  await runChecked('openssl', ['x509', '-req', '-in', p('signer.csr'), '-CA', files.root, '-CAkey', p('root.key'), '-CAcreateserial', '-out', p('signer.pem'), '-days', '3650', '-extfile', p('signer.cnf')]);
  const now = new Date();
  const manifest = {
    schema: 'ferry.update/v1', id: 'bench-1.0.0',
    created: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    expires: new Date(now.getTime() + 3650 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    target: { name: 'bench', compatible: ['ferry-bench'], version: '1.0.0', counter: 1 },
    image: {
      ref: 'bench-1.0.0',
      manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 780 },
      platform: { architecture: 'amd64', os: 'linux' },
      payloadBytes: 123456789,
    },
  };
  await writeFile(files.manifest, JSON.stringify(manifest, null, 2) + '\n');
  await runChecked('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', files.manifest, '-signer', p('signer.pem'), '-inkey', p('signer.key'), '-outform', 'DER', '-out', files.sig]);
  return files;
}

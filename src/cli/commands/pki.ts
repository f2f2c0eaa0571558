/** `ferry pki`: the offline headquarters PKI (root, intermediates, signers, cross-signing, revocation). */
import * as path from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { readPassphrase } from '../../trust/keys.js';
import { crossSign, initRoot, issueCertificate, type PkiResult, publishCrl, revokeCertificate } from '../../trust/pki.js';
import { enrollDevice } from '../../trust/enroll.js';
import { hqWrite } from '../cancel.js';
import { action, printJson, printLines, printNotes } from '../run.js';

interface PassOpts {
  passphraseEnv?: string;
  passphraseFile?: string;
  rootPassphraseEnv?: string;
  rootPassphraseFile?: string;
}

/** Passphrases never come from argv: only an environment variable name or a file. */
function passphraseOptions(cmd: Command, withIssuer = false): Command {
  cmd.option('--passphrase-env <VAR>', 'encrypt/decrypt the key with the passphrase in this environment variable');
  cmd.option('--passphrase-file <FILE>', 'encrypt/decrypt the key with the passphrase in this file');
  if (withIssuer) {
    cmd.option('--root-passphrase-env <VAR>', "the issuing CA key's passphrase, from this environment variable");
    cmd.option('--root-passphrase-file <FILE>', "the issuing CA key's passphrase, from this file");
  }
  return cmd.option('--json', 'print the result as JSON');
}

function days(v: string): number {
  if (!/^\d{1,5}$/.test(v)) throw new FerryError('USAGE', `--days "${v}" is not a number of days`);
  return Number(v);
}

function show(r: PkiResult, json: boolean | undefined, what: string): void {
  if (json) printJson({ ok: true, ...r });
  else printLines(`${what}: ${r.path}`, `  subject ${r.subject}`, `  valid until ${r.notAfter}`, `  sha256 ${r.fingerprint}`);
}

/** Register `ferry pki` on the program. */
export function registerPki(program: Command): void {
  const pki = program.command('pki').description('offline PKI at headquarters: root CA, signers, cross-signing, revocation');
  registerInitRoot(pki);
  registerIssue(pki, 'signer');
  registerIssue(pki, 'ca');
  registerCrossSign(pki);
  registerRevoke(pki);
  registerPublishCrl(pki);
  registerEnrollDevice(pki);
}

function registerInitRoot(pki: Command): void {
  passphraseOptions(
    pki
      .command('init-root')
      .description('create an offline root CA (RSA-3072, self-signed) in a new folder; its key is encrypted with a passphrase unless --no-passphrase')
      .requiredOption('--out <dir>', 'folder for key.pem and cert.pem')
      .option('--name <cn>', 'common name', 'ferry root CA')
      .option('--days <n>', 'validity in days', '7300')
      .option('--no-passphrase', 'write the root key unencrypted (tests, or a root kept on an encrypted offline disk)'),
  ).action(
    action(async (o: { out: string; name: string; days: string; passphrase: boolean; json?: boolean } & PassOpts) => {
      const given = o.passphraseEnv !== undefined || o.passphraseFile !== undefined;
      // the root key is the devices' trust anchor: an unencrypted one is written only when asked for by name
      if (o.passphrase === false && given) throw new FerryError('USAGE', '--no-passphrase and --passphrase-env/--passphrase-file contradict each other: choose one');
      if (o.passphrase !== false && !given) {
        throw new FerryError('PASSPHRASE_REQUIRED', 'the root key would be written unencrypted: pass its passphrase with --passphrase-file FILE or --passphrase-env VAR, or --no-passphrase to write it in the clear');
      }
      const passphrase = await readPassphrase({ env: o.passphraseEnv, file: o.passphraseFile });
      const r = await initRoot({ out: o.out, name: o.name, days: days(o.days), ...(passphrase ? { passphrase } : {}) });
      if (!passphrase) printNotes(`ferry: warning: ${path.join(o.out, 'key.pem')} is unencrypted (--no-passphrase): keep it on an encrypted, offline disk`);
      show(r, o.json, 'root CA');
    }),
  );
}

function registerIssue(pki: Command, profile: 'signer' | 'ca'): void {
  const cmd = pki
    .command(profile === 'signer' ? 'issue-signer' : 'issue-ca')
    .description(profile === 'signer' ? 'issue a code-signing key and certificate from the root (or an intermediate CA with --ca)' : 'issue an intermediate CA from the root (or another intermediate with --ca)')
    .option('--root <dir>', 'the issuing root CA folder')
    .option('--ca <dir>', 'the issuing intermediate CA folder (instead of --root)')
    .requiredOption('--name <cn>', 'common name, e.g. "build signer"')
    .requiredOption('--days <n>', 'validity in days')
    .requiredOption('--out <dir>', 'folder for key.pem, cert.pem (and chain.pem)');
  if (profile === 'ca') cmd.option('--path-len <n>', 'how many intermediate CAs may follow below it');
  passphraseOptions(cmd, true).action(
    action(async (o: { root?: string; ca?: string; name: string; days: string; out: string; pathLen?: string; json?: boolean } & PassOpts) => {
      const issuerDir = o.root ?? o.ca;
      if (!issuerDir || (o.root && o.ca)) throw new FerryError('USAGE', 'name the issuer with exactly one of --root <dir> or --ca <dir>');
      const passphrase = await readPassphrase({ env: o.passphraseEnv, file: o.passphraseFile });
      const issuerPassphrase = await readPassphrase({ env: o.rootPassphraseEnv, file: o.rootPassphraseFile, fileOption: '--root-passphrase-file' });
      const r = await issueCertificate({
        issuerDir,
        profile,
        name: o.name,
        days: days(o.days),
        out: o.out,
        ...(passphrase ? { passphrase } : {}),
        ...(issuerPassphrase ? { issuerPassphrase } : {}),
        ...(o.pathLen !== undefined ? { pathLen: days(o.pathLen) } : {}),
      });
      show(r, o.json, profile === 'signer' ? 'signer' : 'intermediate CA');
    }),
  );
}

function registerCrossSign(pki: Command): void {
  passphraseOptions(
    pki
      .command('cross-sign')
      .description("certify a new root with the old one (root rotation): devices trusting the old root accept the new root's signers")
      .requiredOption('--old-root <dir>', 'the root the devices trust now (its key signs)')
      .requiredOption('--new-root <dir>', 'the new root (only its cert.pem is read)')
      .requiredOption('--out <file>', 'where to write the cross-certificate (PEM)')
      .option('--media <dir>', 'also put it on this media as FERRY/trust/roots/cross-*.pem')
      .option('--days <n>', 'validity in days (never beyond either root)'),
  ).action(
    action(async (o: { oldRoot: string; newRoot: string; out: string; media?: string; days?: string; json?: boolean } & PassOpts) => {
      const pass = await readPassphrase({ env: o.passphraseEnv, file: o.passphraseFile });
      const run = () => crossSign({ oldRootDir: o.oldRoot, newRootDir: o.newRoot, out: o.out, ...(o.media ? { mediaRoot: o.media } : {}), ...(o.days ? { days: days(o.days) } : {}), ...(pass ? { oldRootPassphrase: pass } : {}) });
      const r = o.media ? await hqWrite(o.media, 'pki cross-sign', o, run) : await run();
      show(r, o.json, 'cross-certificate');
    }),
  );
}

function registerRevoke(pki: Command): void {
  passphraseOptions(
    pki
      .command('revoke')
      .description('revoke a certificate: write a new root-signed CRL (with every earlier revocation) to the root folder and the media')
      .requiredOption('--root <dir>', 'the root CA folder (keeps crl.pem, the record of revocations)')
      .requiredOption('--cert <file>', 'the certificate to revoke (PEM)')
      .requiredOption('--media <dir>', 'media root: the CRL goes to FERRY/trust/crl.pem')
      .option('--next-update-days <n>', 'nextUpdate of the CRL, in days', '365'),
  ).action(
    action(async (o: { root: string; cert: string; media: string; nextUpdateDays: string; json?: boolean } & PassOpts) => {
      const pass = await readPassphrase({ env: o.passphraseEnv, file: o.passphraseFile });
      const r = await hqWrite(o.media, 'pki revoke', o, () => revokeCertificate({ rootDir: o.root, certFile: o.cert, mediaRoot: o.media, nextUpdateDays: days(o.nextUpdateDays), ...(pass ? { rootPassphrase: pass } : {}) }));
      if (o.json) printJson({ ok: true, ...r });
      else printLines(`CRL #${r.crlNumber} revokes ${r.revokedSerials.length} certificate(s): ${r.crlPaths.join(', ')}`);
    }),
  );
}

function registerPublishCrl(pki: Command): void {
  pki
    .command('publish-crl')
    .description("put the root's current CRL (<root>/crl.pem) on a stick as FERRY/trust/crl.pem, without revoking anything")
    .requiredOption('--root <dir>', 'the root CA folder that keeps crl.pem')
    .requiredOption('--media <dir>', 'media root: the CRL goes to FERRY/trust/crl.pem')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (o: { root: string; media: string; json?: boolean }) => {
        const r = await hqWrite(o.media, 'pki publish-crl', o, () => publishCrl({ rootDir: o.root, mediaRoot: o.media }));
        if (o.json) printJson({ ok: true, ...r });
        else printLines(`CRL #${r.crlNumber} (revokes ${r.revokedSerials.length} certificate(s)) written to ${r.crlPath}`);
      }),
    );
}

function registerEnrollDevice(pki: Command): void {
  pki
    .command('enroll-device')
    .description("certify a device's receipt key from its request (ferry device init --csr-out) with the device CA; records the certificate in <ca>/devices/ for ferry receipts report")
    .requiredOption('--ca <dir>', 'the device CA folder (its own root: ferry pki init-root --out device-ca --name "ferry device CA"; never the fleet root)')
    .requiredOption('--csr <file>', "the device's enrolment request (PEM)")
    .option('--days <n>', 'validity in days (never beyond the device CA)', '3650')
    .option('--out <file>', 'also write the device certificate here (PEM)')
    .option('--ca-passphrase-env <VAR>', "the device CA key's passphrase, from this environment variable")
    .option('--ca-passphrase-file <FILE>', "the device CA key's passphrase, from this file")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (o: { ca: string; csr: string; days: string; out?: string; caPassphraseEnv?: string; caPassphraseFile?: string; json?: boolean }) => {
        const pass = await readPassphrase({ env: o.caPassphraseEnv, file: o.caPassphraseFile, fileOption: '--ca-passphrase-file' });
        const r = await enrollDevice({ caDir: o.ca, csrFile: o.csr, days: days(o.days), ...(o.out ? { out: o.out } : {}), ...(pass ? { caPassphrase: pass } : {}) });
        if (o.json) printJson({ ok: true, ...r });
        else printLines(`enrolled device ${r.deviceId}: ${r.recordedAt}`, `  key ${r.keyId}`, `  valid until ${r.notAfter}`, `  sha256 ${r.fingerprint}`);
      }),
    );
}

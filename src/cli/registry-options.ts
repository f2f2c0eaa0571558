/** The registry options a docker:// input or target takes (`--authfile`, `--cert-dir`, `--tls-verify`), spelt as skopeo does. */
import type { Command } from 'commander';
import { FerryError } from '../errors.js';
import type { RegistryOptions } from '../oci/registry/client.js';

/** The parsed flags, as commander hands them over. */
export interface RegistryFlags {
  authfile?: string;
  certDir?: string;
  tlsVerify: string;
}

/** Add the three registry flags to `cmd`; `what`, if given, says what they apply to in --help (e.g. "docker:// images"). */
export function addRegistryFlags(cmd: Command, what?: string): Command {
  const on = what !== undefined ? `${what}: ` : '';
  return cmd
    .option('--authfile <file>', `${on}credentials from this auth.json (default: \${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json)`)
    .option('--cert-dir <dir>', `${on}also trust the CA certificates (*.crt) in this folder`)
    .option('--tls-verify <bool>', `${on}verify the registry's TLS certificate; false also allows plain HTTP`, 'true');
}

/** The registry client's options from the flags; `--tls-verify` takes true or false, as in skopeo. */
export function registryOptionsOf(f: RegistryFlags): RegistryOptions {
  if (f.tlsVerify !== 'true' && f.tlsVerify !== 'false') throw new FerryError('USAGE', `--tls-verify must be true or false, not "${f.tlsVerify}"`);
  return { tlsVerify: f.tlsVerify === 'true', ...(f.authfile !== undefined ? { authfile: f.authfile } : {}), ...(f.certDir !== undefined ? { certDir: f.certDir } : {}) };
}

/**
 * The GNU tar child that writes a sanitised layer to disk. Node cannot create
 * device nodes or set extended attributes, so the sanitiser's canonical re-encoding
 * of the entries it accepted (tar-encode.ts) is handed to `tar -x` running as root
 * with every fidelity option on.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { FerryError } from '../../errors.js';

const gnuTarChecked = new Map<string, Promise<void>>();

/**
 * Fail early, with the fix, when `tar` is not GNU tar (busybox and bsdtar lack the
 * options and the pax xattr handling ferry relies on). Checked once per process and path.
 */
export function ensureGnuTar(tarPath = 'tar'): Promise<void> {
  const known = gnuTarChecked.get(tarPath);
  if (known) return known;
  const check = new Promise<void>((resolve, reject) => {
    execFile(tarPath, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      if (!err && /GNU tar/.test(stdout)) return resolve();
      gnuTarChecked.delete(tarPath);
      const found = err ? `cannot run ${tarPath}: ${err.message}` : `${tarPath} is ${stdout.split('\n')[0] || 'not GNU tar'}`;
      reject(new FerryError('SLOT_WRITE_FAILED', `GNU tar is required to write a slot faithfully (${found}); install GNU tar on the device`));
    });
  });
  gnuTarChecked.set(tarPath, check);
  return check;
}

/**
 * Options, and why each is there:
 * - `-B`: reblock short reads from a pipe into whole records.
 * - `--numeric-owner`: uid/gid numbers from the image, never mapped through this device's /etc/passwd.
 * - `--same-owner -p`: keep ownership and full modes (setuid, sticky) without the umask.
 * - `--xattrs --xattrs-include=*`: every SCHILY.xattr.* record (security.capability, security.selinux, ...).
 * - `--warning=no-timestamp`: images from the future or 1970 are normal, not worth a stderr line.
 */
export const GNU_TAR_EXTRACT_ARGS: readonly string[] = ['-x', '-B', '-f', '-', '--numeric-owner', '--same-owner', '-p', '--xattrs', '--xattrs-include=*', '--warning=no-timestamp'];

const STDERR_CAP = 64 * 1024;

/** A running `tar -x` reading a layer on stdin. */
export class TarExtractor {
  private readonly child: ChildProcess;
  private stderr = '';
  private exited: Promise<FerryError | undefined>;
  /**
   * `exited` as a race tag, made once. A `.then` made inside write() shares write()'s closure context,
   * so it kept that call's `chunks` (and the whole inflater buffers they slice) alive until tar exited
   * at the layer's end: ~28 MiB at the 4 GiB image, 305 MiB for a library write at 256 MiB.
   */
  private readonly exitTag: Promise<'exit'>;
  private failure: FerryError | undefined;
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    root: string,
    private readonly what: string,
    tarPath = 'tar',
  ) {
    this.child = spawn(tarPath, [...GNU_TAR_EXTRACT_ARGS, '-C', root], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      if (this.stderr.length < STDERR_CAP) this.stderr += s.slice(0, STDERR_CAP - this.stderr.length);
    });
    // EPIPE when tar dies early: the exit status below tells the real story.
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => resolve(new FerryError('SLOT_WRITE_FAILED', `${what}: cannot run GNU tar (${e.message}); install GNU tar`, { cause: e })));
      this.child.on('close', (code, sig) => resolve(code === 0 ? undefined : this.errorFor(code, sig)));
    }).then((e) => {
      this.failure = e as FerryError | undefined;
      return this.failure;
    });
    this.exitTag = this.exited.then(() => 'exit' as const);
  }

  /** Write chunks to tar (one writev), resolving when it can take more; rejects when tar has failed. */
  async write(chunks: Buffer[]): Promise<void> {
    if (this.failure) throw this.failure;
    const stdin = this.child.stdin!;
    stdin.cork();
    let ok = true;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) ok = stdin.write(chunks[i]!) && ok;
    // writes complete in order: the last one's callback says every byte so far left our buffers
    if (last >= 0) this.lastWrite = new Promise<void>((r) => (ok = stdin.write(chunks[last]!, () => r()) && ok));
    stdin.uncork();
    if (ok) return;
    const ended = await Promise.race([new Promise<'drain'>((r) => stdin.once('drain', () => r('drain'))), this.exitTag]);
    if (ended === 'exit') throw this.failure ?? new FerryError('SLOT_WRITE_FAILED', `${this.what}: GNU tar stopped reading the layer early`);
  }

  /**
   * Resolves once every byte handed to `write` so far has been passed to the pipe (or the
   * write failed): until then the stream may still hold the caller's buffers, which must not be reused.
   */
  written(): Promise<void> {
    return this.lastWrite;
  }

  /** Close tar's stdin and wait for it to finish; throws SLOT_WRITE_FAILED / NO_SPACE on failure. */
  async end(): Promise<void> {
    this.child.stdin!.end();
    const e = await this.exited;
    if (e) throw e;
  }

  /** Stop tar now (cancellation or an error upstream) and wait for it to exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  private errorFor(code: number | null, sig: NodeJS.Signals | null): FerryError {
    const tail = this.stderr.trim().split('\n').slice(-5).join(' | ');
    const how = sig ? `was killed by ${sig}` : `exited with status ${code}`;
    // ENOSPC surfaces either as strerror or, for a short write, as tar's own "Wrote only N of M bytes".
    const noSpace = /No space left on device|Disk quota exceeded|Wrote only \d+ of \d+ bytes/.test(this.stderr);
    return new FerryError(noSpace ? 'NO_SPACE' : 'SLOT_WRITE_FAILED', `${this.what}: GNU tar ${how}${tail ? `: ${tail}` : ''}${noSpace ? ': the slot is too small for this image' : ''}`, {
      details: { stderr: this.stderr.slice(-4096), code, signal: sig },
    });
  }
}

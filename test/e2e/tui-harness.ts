/**
 * Drive the real, tsc-built ferry-tui inside tmux: start it in a detached session of
 * a given size, send keys, capture the screen as text, poll for text. Each harness
 * uses its own tmux server socket so parallel test files never see each other.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
/** Node 24 from the project (the machine's own node is too old). */
export const NODE = path.join(REPO, 'node_modules/.bin/node');
/** The built entry point. */
export const TUI = path.join(REPO, 'dist/tui/main.js');

let counter = 0;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One ferry-tui running in tmux. */
export class TuiSession {
  readonly socket: string;
  readonly name = 'tui';

  private constructor(socket: string) {
    this.socket = socket;
  }

  /** Start `ferry-tui args` in a detached width x height tmux window with `env` set. */
  static start(args: string[], env: Record<string, string> = {}, size = { width: 80, height: 24 }): TuiSession {
    const s = new TuiSession(`ferry-tui-${process.pid}-${++counter}`);
    const envs = Object.entries({ LANG: 'C.UTF-8', ...env }).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
    // After ferry-tui exits, print its exit code and keep the pane so the test can read it.
    const cmd = `env ${envs} ${shellQuote(NODE)} ${shellQuote(TUI)} ${args.map(shellQuote).join(' ')}; echo "[exit $?]"; sleep 600`;
    s.tmux('new-session', '-d', '-s', s.name, '-x', String(size.width), '-y', String(size.height), cmd);
    return s;
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  /** Send tmux key names ("Enter", "Tab", "Escape", "Down", "q", "y"). */
  keys(...keys: string[]): void {
    for (const k of keys) this.tmux('send-keys', '-t', this.name, k);
  }

  /** The visible screen, one string per row. */
  capture(): string {
    return this.tmux('capture-pane', '-p', '-t', this.name);
  }

  /** Resize the window (ferry-tui must redraw). */
  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', this.name, '-x', String(width), '-y', String(height));
  }

  /** Poll until the screen contains `what`; throws with the last screen on timeout. */
  async waitFor(what: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      screen = this.capture();
      if (typeof what === 'string' ? screen.includes(what) : what.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(what)}; screen was:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The pid of the ferry-tui process (a child of the pane's shell). */
  pid(): number {
    const shell = this.tmux('list-panes', '-t', this.name, '-F', '#{pane_pid}').trim();
    const kids = execFileSync('pgrep', ['-P', shell], { encoding: 'utf8' }).trim().split('\n').map(Number);
    const pid = kids.find((k) => {
      try {
        return readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('tui/main.js');
      } catch {
        return false;
      }
    });
    if (pid === undefined) throw new Error('ferry-tui is not running');
    return pid;
  }

  /** Stop the tmux server of this session (and ferry-tui with it). */
  kill(): void {
    // A ferry-tui whose engine is parked in open() on a test pipe cannot finish exiting
    // (libuv joins its threadpool at exit): make sure no test leaves one behind.
    let pid: number | undefined;
    try {
      pid = this.pid();
    } catch {
      // no pane or no ferry-tui left
    }
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already exited
      }
    }
  }
}

/** Rows of a captured screen, trailing blanks trimmed. */
export function rows(screen: string): string[] {
  return screen.replace(/\n$/, '').split('\n').map((r) => r.trimEnd());
}

/**
 * With FERRY_WRITE_SCREENS=1, keep a captured screen as docs/screens/<name>.txt (for the README).
 * Every screen kept for the docs is checked for cut text first, whether it is written or not.
 */
export async function saveScreen(name: string, screen: string): Promise<void> {
  const cut = cutRows(screen);
  if (cut.length > 0) throw new Error(`docs/screens/${name}: cut text in\n${cut.join('\n')}\n--- screen:\n${screen}`);
  if (process.env.FERRY_WRITE_SCREENS !== '1') return;
  const { mkdir, writeFile } = await import('node:fs/promises');
  const dir = path.join(REPO, 'docs', 'screens');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${name}.txt`), rows(screen).join('\n').replace(/\n+$/, '') + '\n');
}

/** Words that end in "…" on purpose (work in progress), not because text was cut. */
const ELLIPSIS_WORDS = /(reading|working|requested|cancelling|checking|lese|arbeite|angefordert|prüfe|breche ab)…/g;

/** Rows of `screen` that were cut (an ellipsis where text did not fit); [] when nothing is cut. */
export function cutRows(screen: string): string[] {
  return rows(screen).filter((r) => r.replace(ELLIPSIS_WORDS, '').includes('…') || r.replace(ELLIPSIS_WORDS, '').includes('~'));
}

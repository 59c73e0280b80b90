import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** A JSON line a fixture process prints on stdout (`{"event":"ready",...}`); Nest's log lines are ignored. */
export interface FixtureEvent {
  event: string;
  [key: string]: unknown;
}

export interface FixtureExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const ROOT = join(__dirname, '..', '..');

/**
 * A fixture (a TypeScript file under test/fixtures/, run with `node -r @swc-node/register`) in a process
 * of its own: its JSON events, its raw output (for failure messages) and its exit. The fixture keeps
 * stdin open as an orphan guard; `forceStop()` SIGKILLs it.
 */
export class FixtureProcess {
  readonly events: FixtureEvent[] = [];
  output = '';
  exit?: FixtureExit;
  readonly exited: Promise<FixtureExit>;
  private readonly child: ChildProcess;
  private pending = '';
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly label: string,
    fixture: string,
    env: Record<string, string>,
    private readonly waitMs = 20_000,
  ) {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', fixture], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', WORKER_NAME: label, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The first event (seen or future) matching `match`; fails if the process exits first or on timeout. */
  waitFor(what: string, match: (e: FixtureEvent) => boolean, timeoutMs = this.waitMs): Promise<FixtureEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(this.failure(`timed out waiting for ${what}`))), timeoutMs);
      const check = (): void => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (this.exit) done(() => reject(this.failure(`exited (${this.exit?.code ?? this.exit?.signal}) while waiting for ${what}`)));
      };
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  async waitForExit(): Promise<FixtureExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure('did not exit')), this.waitMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` and waits for the exit (nothing if the process has exited already). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exit) return;
    this.child.kill(signal);
    await this.exited;
  }

  forceStop(): Promise<void> {
    return this.kill('SIGKILL');
  }

  failure(message: string): Error {
    return new Error(`fixture ${this.label} (pid ${this.pid}) ${message}\n--- its output (tail) ---\n${this.output.slice(-6000)}`);
  }

  private onStdout(chunk: string): void {
    this.output += chunk;
    this.pending += chunk;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (!line.startsWith('{"event"')) continue;
      try {
        this.events.push(JSON.parse(line) as FixtureEvent);
      } catch {
        // a log line that happens to look like JSON: ignore
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * The worker processes of the chaos test: spawns them, SIGKILLs a random one on request and restarts it
 * at once (same name, new process), and keeps what happened (kills, exits, log line tallies) for the report.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, WriteStream } from 'node:fs';
import { join } from 'node:path';
import { ChaosConfig } from './config';

const ROOT = join(__dirname, '..', '..', '..');
const WORKER_ENTRY = join(__dirname, 'worker.ts');
const READY_TIMEOUT_MS = 60_000;
/** A restarted worker whose name is still held by its dead predecessor (heartbeat not yet stale) retries this soon. */
const CLASH_RETRY_MS = 300;

export interface KillRecord {
  name: string;
  pid: number;
  /** Incarnation of this worker name that was killed (1 = the first process). */
  generation: number;
  spawnedAt: number;
  killedAt: number;
  exitedAt?: number;
  /** When the replacement process was spawned: every claim by this name before it is the victim's. */
  replacementSpawnedAt?: number;
}

export interface LogTally {
  errorLines: number;
  warnLines: number;
  retryWarnings: number;
  leaseLostWarnings: number;
  samples: string[];
}

/** One worker process (one incarnation of a worker name). */
class WorkerProcess {
  readonly spawnedAt = Date.now();
  readyAt?: number;
  exitedAt?: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  killedAt?: number;
  output = '';
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private pending = '';
  private readonly log: WriteStream;

  constructor(
    readonly name: string,
    readonly generation: number,
    env: Record<string, string>,
    logFile: string,
    private readonly onLine: (line: string) => void,
  ) {
    this.log = createWriteStream(logFile);
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', WORKER_ENTRY], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => undefined);
    let markReady!: () => void;
    let failReady!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    const onData = (chunk: string): void => {
      this.log.write(chunk);
      this.output = (this.output + chunk).slice(-20_000);
      this.pending += chunk;
      let nl: number;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        if (line.startsWith('{"event":"ready"')) {
          this.readyAt = Date.now();
          markReady();
        }
        this.onLine(line);
      }
    };
    this.child.stdout?.setEncoding('utf8').on('data', onData);
    this.child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitedAt = Date.now();
        this.exit = { code, signal };
        this.log.end();
        failReady(new Error(`worker ${this.name} (pid ${this.pid}) exited (${code ?? signal}) before it was ready`));
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  get isReady(): boolean {
    return this.readyAt !== undefined && this.alive;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }
}

export class Fleet {
  readonly kills: KillRecord[] = [];
  /** Exits nobody asked for (a crash while serving, or a failed boot other than a name clash). */
  readonly unexpectedExits: Array<{ name: string; pid: number; exit: string; ready: boolean; tail: string }> = [];
  nameClashes = 0;
  spawned = 0;
  readonly logs: LogTally = { errorLines: 0, warnLines: 0, retryWarnings: 0, leaseLostWarnings: 0, samples: [] };
  private readonly current: WorkerProcess[] = [];
  private readonly generations = new Map<string, number>();
  private stopping = false;
  private readonly pendingRestarts = new Set<Promise<void>>();

  constructor(
    private readonly config: ChaosConfig,
    private readonly dbUrl: string,
    private readonly logDir: string,
  ) {}

  /** Spawns every worker and waits until each is registered and polling. */
  async start(): Promise<void> {
    for (let slot = 0; slot < this.config.workers; slot++) this.current[slot] = this.spawn(`w${slot + 1}`);
    await Promise.all(this.current.map((w) => w.ready));
  }

  get readyCount(): number {
    return this.current.filter((w) => w?.isReady).length;
  }

  /** SIGKILLs one random ready worker; its replacement is spawned as soon as it has exited. */
  killRandom(random: () => number): KillRecord | undefined {
    const candidates = this.current.filter((w) => w.isReady && w.killedAt === undefined);
    if (candidates.length === 0) return undefined;
    const victim = candidates[Math.floor(random() * candidates.length)];
    const record: KillRecord = { name: victim.name, pid: victim.pid, generation: victim.generation, spawnedAt: victim.spawnedAt, killedAt: Date.now() };
    victim.killedAt = record.killedAt;
    victim.signal('SIGKILL');
    this.kills.push(record);
    void victim.exited.then(() => {
      record.exitedAt = victim.exitedAt;
      record.replacementSpawnedAt = Date.now();
    });
    return record;
  }

  /** End of the test: SIGTERM (drain) every worker, SIGKILL whatever is still alive after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.pendingRestarts]);
    const alive = this.current.filter((w) => w.alive);
    for (const w of alive) w.signal('SIGTERM');
    const timer = setTimeout(() => alive.forEach((w) => w.signal('SIGKILL')), graceMs);
    await Promise.all(alive.map((w) => w.exited));
    clearTimeout(timer);
  }

  private spawn(name: string): WorkerProcess {
    const generation = (this.generations.get(name) ?? 0) + 1;
    this.generations.set(name, generation);
    this.spawned++;
    const env = {
      DB_URL: this.dbUrl,
      WORKER_NAME: name,
      CONCURRENCY: String(this.config.concurrency),
      LEASE: `${this.config.leaseMs}ms`,
      HEARTBEAT: `${this.config.heartbeatMs}ms`,
      POLL: `${this.config.pollMs}ms`,
    };
    const worker = new WorkerProcess(name, generation, env, join(this.logDir, `${name}.${generation}.log`), (line) => this.tally(name, line));
    void worker.exited.then(() => this.onExit(worker));
    return worker;
  }

  private onExit(worker: WorkerProcess): void {
    const slot = this.current.indexOf(worker);
    if (slot < 0 || this.stopping) return;
    const killed = worker.killedAt !== undefined;
    const clash = !killed && worker.readyAt === undefined && /is in use by a live worker/.test(worker.output);
    if (clash) this.nameClashes++;
    else if (!killed) {
      this.unexpectedExits.push({
        name: worker.name,
        pid: worker.pid,
        exit: String(worker.exit?.code ?? worker.exit?.signal),
        ready: worker.readyAt !== undefined,
        tail: worker.output.slice(-3000),
      });
    }
    const restart = (async () => {
      if (clash) await new Promise((resolve) => setTimeout(resolve, CLASH_RETRY_MS));
      if (this.stopping) return;
      const next = this.spawn(worker.name);
      this.current[slot] = next;
      // A replacement that never becomes ready is retried by onExit; a hung one is killed.
      const timer = setTimeout(() => next.readyAt === undefined && next.signal('SIGKILL'), READY_TIMEOUT_MS);
      await next.ready.catch(() => undefined);
      clearTimeout(timer);
    })();
    this.pendingRestarts.add(restart);
    void restart.finally(() => this.pendingRestarts.delete(restart));
  }

  private tally(name: string, line: string): void {
    if (this.config.verbose && !line.startsWith('{"event"')) process.stderr.write(`[${name}] ${line}\n`);
    // A restart refused because the dead worker's name is still live is counted in nameClashes.
    if (/is in use by a live worker/.test(line)) return;
    const isError = /\bERROR\b/.test(line) || line.startsWith('{"event":"unhandledRejection"') || line.startsWith('{"event":"error"');
    const isWarn = /\bWARN\b/.test(line);
    if (isError) this.logs.errorLines++;
    if (isWarn) this.logs.warnLines++;
    if (isWarn && /attempt \d+ failed/.test(line)) this.logs.retryWarnings++;
    else if (isWarn && /lease lost/.test(line)) this.logs.leaseLostWarnings++;
    if ((isError || (isWarn && !/attempt \d+ failed/.test(line))) && this.logs.samples.length < 8) {
      this.logs.samples.push(`${name}: ${line.slice(0, 400)}`);
    }
  }
}

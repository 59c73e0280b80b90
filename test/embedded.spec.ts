/**
 * The embedded PostgreSQL (the zero-setup default): real servers from the real binaries, one data directory
 * for the whole file (initdb takes seconds), in os.tmpdir().
 *
 * Access: the superuser's password is per data directory, in `<dataDir>/postgres.password` (0600); the fixed
 * password of earlier versions is refused, and replaced on the first start of a data directory it still opens.
 * Signals: the server runs in a session of its own, so a terminal's Ctrl-C (SIGINT to the app's whole process
 * group) reaches only the app, which drains and then stops the server itself.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../libs/kagzi/src/persistence/embedded-postgres.launcher';

const ROOT = join(__dirname, '..');
const SERVER_SCRIPT = join(__dirname, 'support', 'embedded-server.ts');
const FIXED_PASSWORD = 'kagzi';

let parent: string;
let dataDir: string;
const running = new Set<EmbeddedPostgresHandle>();

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'kagzi-embedded-'));
  dataDir = join(parent, '.kagzi');
});

afterAll(async () => {
  await Promise.all([...running].map((h) => h.stop()));
  if (parent) await rm(parent, { recursive: true, force: true });
});

async function start(): Promise<EmbeddedPostgresHandle> {
  const handle = await startEmbeddedPostgres({ dataDir });
  running.add(handle);
  return handle;
}

async function stop(handle: EmbeddedPostgresHandle): Promise<void> {
  await handle.stop();
  running.delete(handle);
}

const passwordFile = (): string => join(dataDir, 'postgres.password');

/** Runs `sql` over a fresh connection to `url`. */
async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Connects to `url` as `postgres` with `password` (none: omitted); the error if the connection is refused. */
async function refusal(url: string, password: string | undefined): Promise<Error & { code?: string }> {
  const { port } = new URL(url);
  const client = new Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'kagzi' });
  try {
    await client.connect();
  } catch (e: unknown) {
    return e as Error & { code?: string };
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error(`connected with password ${JSON.stringify(password)}`);
}

/** Running, and not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('embedded PostgreSQL access', () => {
  let firstPassword: string;

  it('a first start keeps a random superuser password in a 0600 file and refuses the fixed password of earlier versions', async () => {
    const server = await start();
    const { mode } = await stat(passwordFile());
    expect((mode & 0o777).toString(8)).toBe('600');
    firstPassword = (await readFile(passwordFile(), 'utf8')).trim();
    expect(firstPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(decodeURIComponent(new URL(server.url).password)).toBe(firstPassword);

    const [row] = await query<{ user: string; listen: string; sockets: string }>(
      server.url,
      `select current_user as user, current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sockets`,
    );
    expect(row).toEqual({ user: 'postgres', listen: '127.0.0.1', sockets: '' });
    // every connection authenticates with a password: no trust (or peer) rule anywhere
    const rules = await query<{ auth_method: string }>(server.url, 'select distinct auth_method from pg_hba_file_rules');
    expect(rules).toEqual([{ auth_method: 'scram-sha-256' }]);

    expect((await refusal(server.url, FIXED_PASSWORD)).code).toBe('28P01'); // invalid_password
    expect((await refusal(server.url, 'not-the-password')).code).toBe('28P01');
    // the server asks for SCRAM: without a password the client cannot even answer
    expect((await refusal(server.url, undefined)).message).toMatch(/SASL|password/);
    await stop(server);
  });

  it('a later start on the same data directory reuses its password', async () => {
    const server = await start();
    expect((await readFile(passwordFile(), 'utf8')).trim()).toBe(firstPassword);
    expect(decodeURIComponent(new URL(server.url).password)).toBe(firstPassword);
    expect(await query(server.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await stop(server);
  });

  it('the first start after an upgrade replaces the fixed password that a data directory of an earlier version still has', async () => {
    // make the cluster what an earlier version left: the fixed password, no password file
    const before = await start();
    await query(before.url, 'create table kept_across_upgrade (id int); insert into kept_across_upgrade values (42)');
    await query(before.url, `alter role postgres password '${FIXED_PASSWORD}'`);
    await stop(before);
    await rm(passwordFile());

    const server = await start();
    const password = (await readFile(passwordFile(), 'utf8')).trim();
    expect(password).not.toBe(firstPassword);
    expect(((await stat(passwordFile())).mode & 0o777).toString(8)).toBe('600');
    expect(decodeURIComponent(new URL(server.url).password)).toBe(password);
    expect((await refusal(server.url, FIXED_PASSWORD)).code).toBe('28P01');
    expect(await query(server.url, 'select id from kept_across_upgrade')).toEqual([{ id: 42 }]);
    await stop(server);

    // and it stays replaced
    const again = await start();
    expect((await readFile(passwordFile(), 'utf8')).trim()).toBe(password);
    expect((await refusal(again.url, FIXED_PASSWORD)).code).toBe('28P01');
    await stop(again);
  });
});

/** test/support/embedded-server.ts on this file's data directory, leading a process group of its own like a terminal's job. */
class ServerApp {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', SERVER_SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, EMBEDDED_DATA_DIR: dataDir, EMBEDDED_DATABASE: 'kagzi', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child.stdin?.on('error', () => undefined);
    let pending = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line.startsWith('{')) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async waitFor(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) break;
    }
    throw new Error(`embedded server app: no ${what}\n--- its output ---\n${this.output.slice(-4000)}`);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('embedded PostgreSQL and signals', () => {
  const apps: ServerApp[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) {
      app.kill();
      await app.exited;
    }
  });

  it("a terminal's Ctrl-C reaches the app, not the server: it serves while the app drains and stops when the app stops it", async () => {
    const app = new ServerApp({ EMBEDDED_STOP_DELAY_MS: '1500' });
    apps.push(app);
    const { url, pid } = (await app.waitFor((l) => typeof l.url === 'string', 'URL')) as { url: string; pid: number };
    expect(isAlive(pid)).toBe(true);

    process.kill(-(app.child.pid as number), 'SIGINT'); // what Ctrl-C does: the whole foreground process group
    await app.waitFor((l) => l.event === 'signal' && l.signal === 'SIGINT', 'SIGINT');
    await sleep(300); // a server that got the SIGINT too would be refusing connections by now
    expect(isAlive(pid)).toBe(true);
    expect(await query(url, 'select 1 as one')).toEqual([{ one: 1 }]);

    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(pid)).toBe(false);
    await expect(query(url, 'select 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('after the app is killed (SIGKILL), its server is left running and the next start stops it first', async () => {
    const app = new ServerApp({});
    apps.push(app);
    const { pid } = (await app.waitFor((l) => typeof l.pid === 'number', 'URL')) as { pid: number };
    app.kill();
    await app.exited;
    expect(isAlive(pid)).toBe(true);

    const server = await start();
    expect(isAlive(pid)).toBe(false);
    expect(server.pid).not.toBe(pid);
    expect(await query(server.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await stop(server);
  });
});

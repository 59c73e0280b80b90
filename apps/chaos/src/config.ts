import { ClusterRef, parseCluster } from './database-server';

/**
 * Command line and environment of `npm run chaos`. Every setting is a `--flag=value` (or `--flag value`)
 * with an environment fallback `CHAOS_FLAG_NAME`.
 */
export interface ChaosConfig {
  /** Workflows started. */
  runs: number;
  /** Worker processes kept alive (one is SIGKILLed and restarted every `killEveryMs`). */
  workers: number;
  killEveryMs: number;
  /** Runs started per second (0: all at once). Paced so the chaos lasts while runs are in flight. */
  rate: number;
  /** Worker concurrency (runs executing at once per process). */
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  pollMs: number;
  /** Seeds the workflow inputs (delays, sleeps, transient failures) and the choice of victim. */
  seed: number;
  /** Give up (and report what is left non-terminal) after this long. */
  timeoutMs: number;
  /** Stream the workers' own log lines to stderr as well as to their log files. */
  verbose: boolean;
  /** Database restarts during the run (0: none), alternately `-m fast` and `-m immediate`. */
  dbRestarts: number;
  /** How long the database stays down at each restart. */
  dbDownMs: number;
  /** The disposable cluster that is restarted (`VERSION/NAME`, postgresql-common), and its port if it has to be created. */
  dbCluster: ClusterRef;
  dbPort: number;
}

export const USAGE = `Usage: npm run chaos -- [--flag=value ...]

Flags (environment fallback in brackets):
  --runs=1000          workflows started                                   [CHAOS_RUNS]
  --workers=3          worker processes                                    [CHAOS_WORKERS]
  --kill-every=3s      SIGKILL a random ready worker (and restart it) this often [CHAOS_KILL_EVERY]
                       (0 = no SIGKILLs)
  --rate=12            runs started per second (0 = all at once)           [CHAOS_RATE]
  --concurrency=10     runs executing at once per worker                   [CHAOS_CONCURRENCY]
  --lease=2s --heartbeat=500ms --poll=200ms   worker lease settings        [CHAOS_LEASE, ...]
  --seed=42            workflow inputs and victims are drawn from it       [CHAOS_SEED]
  --timeout=5m         give up waiting for runs after this long            [CHAOS_TIMEOUT]
  --verbose            copy worker log lines to stderr                     [CHAOS_VERBOSE=1]
  --db-restarts=0      restart the database this many times during the run, [CHAOS_DB_RESTARTS]
                       alternating stop -m fast and stop -m immediate (a crash)
  --db-down=3s         how long the database stays down at each restart    [CHAOS_DB_DOWN]
  --db-cluster=15/faults  the cluster restarted; created if missing         [CHAOS_DB_CLUSTER]
  --db-port=5433       port of that cluster when it has to be created      [CHAOS_DB_PORT]

Database: kagzi_chaos is dropped and recreated on KAGZI_CHAOS_ADMIN_URL
(default postgres://postgres@127.0.0.1:5432/postgres) and left in place afterwards for inspection.
With --db-restarts it lives on the disposable cluster instead (pg_createcluster / pg_ctlcluster; the
shared server is never restarted).
Output: progress and a summary table on stderr, one JSON line of figures on stdout.
Exit code 1 if an invariant fails (a run not completed, a committed step executed again, ...).`;

export class ConfigError extends Error {}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--${flag} must be a duration like 500ms, 3s or 2m; got "${text}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']);
}

const KNOWN = [
  'runs', 'workers', 'kill-every', 'rate', 'concurrency', 'lease', 'heartbeat', 'poll', 'seed', 'timeout', 'verbose', 'help',
  'db-restarts', 'db-down', 'db-cluster', 'db-port',
];

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ChaosConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), 'true');
  }
  const unknown = [...flags.keys()].filter((f) => !KNOWN.includes(f));
  if (unknown.length > 0) throw new ConfigError(`Unknown flag(s): ${unknown.map((f) => `--${f}`).join(', ')}`);
  if (flags.has('help')) throw new ConfigError('');

  const raw = (flag: string): string | undefined => {
    const value = flags.get(flag) ?? env[`CHAOS_${flag.toUpperCase().replace(/-/g, '_')}`];
    return value === '' ? undefined : value;
  };
  const num = (flag: string, fallback: number, min: number, integer = true): number => {
    const value = raw(flag);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new ConfigError(`--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}; got "${value}"`);
    }
    return n;
  };
  const duration = (flag: string, fallback: string): number => parseDuration(raw(flag) ?? fallback, flag);
  const verbose = raw('verbose');
  const clusterText = raw('db-cluster') ?? '15/faults';
  const cluster = parseCluster(clusterText);
  if (!cluster) throw new ConfigError(`--db-cluster must be VERSION/NAME, like 15/faults; got "${clusterText}"`);

  const config: ChaosConfig = {
    runs: num('runs', 1000, 1),
    workers: num('workers', 3, 2),
    killEveryMs: duration('kill-every', '3s'),
    rate: num('rate', 12, 0, false),
    concurrency: num('concurrency', 10, 1),
    leaseMs: duration('lease', '2s'),
    heartbeatMs: duration('heartbeat', '500ms'),
    pollMs: duration('poll', '200ms'),
    seed: num('seed', 42, 0),
    timeoutMs: duration('timeout', '5m'),
    verbose: verbose !== undefined && verbose !== '0' && verbose !== 'false',
    dbRestarts: num('db-restarts', 0, 0),
    dbDownMs: duration('db-down', '3s'),
    dbCluster: cluster,
    dbPort: num('db-port', 5433, 1),
  };
  if (config.killEveryMs !== 0 && config.killEveryMs < 100) throw new ConfigError('--kill-every must be 0 (no kills) or at least 100ms');
  if (config.heartbeatMs >= config.leaseMs) throw new ConfigError('--heartbeat must be shorter than --lease');
  return config;
}

/** mulberry32: a small seeded generator, so a run of the chaos test can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

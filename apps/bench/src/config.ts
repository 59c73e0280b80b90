/**
 * Command line and environment of `npm run bench`. Positional arguments pick scenarios (default: all);
 * every size is a `--flag=value` (or `--flag value`) with an environment fallback `BENCH_FLAG_NAME`.
 */
export const SCENARIO_NAMES = ['statements', 'latency', 'throughput', 'replay', 'retry', 'parallel', 'signal', 'child', 'retention', 'tracing', 'dashboard', 'transactional', 'start-many', 'scale-out'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchConfig {
  scenarios: ScenarioName[];
  /** Measured runs per workflow shape in `statements` (the median is reported). */
  statementsReps: number;
  latencyN: number;
  latencyWarmup: number;
  throughputN: number;
  throughputWarmup: number;
  /** Measurements per concurrency setting (the median is reported). */
  throughputReps: number;
  /** Worker concurrency settings tried by `throughput`; the best is reported as tuned. */
  concurrency: number[];
  /** Bound on concurrent `start()` calls in `throughput` (0 = all at once). */
  inFlight: number;
  /** Completed steps the `replay` run carries. */
  replaySteps: number;
  /** Same-process resumes measured by `replay` (the median is reported). */
  replayReps: number;
  /** Steps of the workflow `retry` times with and without a retry policy. */
  retrySteps: number;
  /** Runs per variant in `retry` (each A/B comparison alternates the two variants run by run). */
  retryReps: number;
  /** Runs per workflow shape in `parallel` (one at a time, shapes interleaved; the median is reported). */
  parallelReps: number;
  /** Measured signal round trips in `signal` (one run at a time, each parked WAITING before it is signalled). */
  signalN: number;
  signalWarmup: number;
  /** Measured runs per variant in `child` (inline step vs child workflow, one at a time, interleaved). */
  childN: number;
  childWarmup: number;
  /** Runs fired per round in `tracing` (workflows/s), then runs one at a time (p50), in rounds alternating no SDK / SDK. */
  tracingN: number;
  tracingLatencyN: number;
  tracingRounds: number;
  /** Runs per measurement in `scale-out`, and the worker process counts it tries. */
  scaleOutN: number;
  scaleOutProcesses: number[];
  /** Also print Nest/Kagzi info logs (stderr). */
  verbose: boolean;
}

export const USAGE = `Usage: npm run bench -- [scenario ...] [--flag=value ...]

Scenarios (default: all, in this order): ${SCENARIO_NAMES.join(', ')}

Flags (environment fallback in brackets):
  --statements-reps=5        runs measured per workflow shape          [BENCH_STATEMENTS_REPS]
  --latency-n=500            measured sequential runs                  [BENCH_LATENCY_N]
  --latency-warmup=50        unmeasured runs first                     [BENCH_LATENCY_WARMUP]
  --throughput-n=2000        workflows per throughput measurement      [BENCH_THROUGHPUT_N]
  --throughput-warmup=200    unmeasured workflows first, per setting   [BENCH_THROUGHPUT_WARMUP]
  --throughput-reps=1        measurements per setting (median kept)    [BENCH_THROUGHPUT_REPS]
  --concurrency=10,50,100,200  worker concurrency settings to try      [BENCH_CONCURRENCY]
  --in-flight=64             concurrent start() calls (0 = all at once) [BENCH_IN_FLIGHT]
  --replay-steps=1000        completed steps replayed on resume        [BENCH_REPLAY_STEPS]
  --replay-reps=3            same-process resumes measured             [BENCH_REPLAY_REPS]
  --retry-steps=20           steps per run in the retry-policy A/B     [BENCH_RETRY_STEPS]
  --retry-reps=100           runs per variant in each retry A/B        [BENCH_RETRY_REPS]
  --parallel-reps=10         runs per shape in parallel (median kept)  [BENCH_PARALLEL_REPS]
  --signal-n=200             measured signal round trips               [BENCH_SIGNAL_N]
  --signal-warmup=20         unmeasured round trips first              [BENCH_SIGNAL_WARMUP]
  --child-n=100              runs per variant in child (A/B)           [BENCH_CHILD_N]
  --child-warmup=10          unmeasured runs per variant first         [BENCH_CHILD_WARMUP]
  --tracing-n=1000           runs per round for workflows/s in tracing [BENCH_TRACING_N]
  --tracing-latency-n=200    sequential runs per round for p50         [BENCH_TRACING_LATENCY_N]
  --tracing-rounds=6         rounds per variant (no SDK / SDK)         [BENCH_TRACING_ROUNDS]
  --scale-out-n=3000         runs per measurement in scale-out         [BENCH_SCALE_OUT_N]
  --scale-out-processes=1,2,3  worker processes tried by scale-out     [BENCH_SCALE_OUT_PROCESSES]
  --verbose                  Nest/Kagzi info logs on stderr            [BENCH_VERBOSE=1]

Database: KAGZI_BENCH_DATABASE_URL (schema kagzi_bench is dropped and recreated), else database
kagzi_bench recreated on KAGZI_BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
else the library's default (embedded PostgreSQL under ./.kagzi).
Output: one JSON object per figure on stdout; a readable line per figure on stderr.`;

export class ConfigError extends Error {}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--') && !isScenario(argv[i + 1])) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), 'true');
  }
  const known = new Set(['statements-reps', 'latency-n', 'latency-warmup', 'throughput-n', 'throughput-warmup', 'throughput-reps', 'concurrency', 'in-flight', 'replay-steps', 'replay-reps', 'retry-steps', 'retry-reps', 'parallel-reps', 'signal-n', 'signal-warmup', 'child-n', 'child-warmup', 'tracing-n', 'tracing-latency-n', 'tracing-rounds', 'scale-out-n', 'scale-out-processes', 'verbose', 'help']);
  const unknownFlags = [...flags.keys()].filter((f) => !known.has(f));
  if (unknownFlags.length > 0) throw new ConfigError(`Unknown flag(s): ${unknownFlags.map((f) => `--${f}`).join(', ')}`);
  if (flags.has('help')) throw new ConfigError('');

  const raw = (flag: string): string | undefined => flags.get(flag) ?? env[`BENCH_${flag.toUpperCase().replace(/-/g, '_')}`];
  const int = (flag: string, fallback: number, min: number): number => {
    const value = raw(flag);
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${flag} must be an integer >= ${min}; got "${value}"`);
    return n;
  };

  const unknownScenarios = positional.filter((p) => p !== 'all' && !isScenario(p));
  if (unknownScenarios.length > 0) throw new ConfigError(`Unknown scenario(s): ${unknownScenarios.join(', ')}`);
  const picked = positional.length === 0 || positional.includes('all') ? [...SCENARIO_NAMES] : SCENARIO_NAMES.filter((s) => positional.includes(s));

  const concurrencyText = raw('concurrency') ?? '10,50,100,200';
  const concurrency = concurrencyText.split(',').map((s) => Number(s.trim()));
  if (concurrency.length === 0 || concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new ConfigError(`--concurrency must be a comma-separated list of positive integers; got "${concurrencyText}"`);
  }
  const processesText = raw('scale-out-processes') ?? '1,2,3';
  const scaleOutProcesses = processesText.split(',').map((s) => Number(s.trim()));
  if (scaleOutProcesses.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new ConfigError(`--scale-out-processes must be a comma-separated list of positive integers; got "${processesText}"`);
  }
  const verbose = raw('verbose');
  return {
    scenarios: picked,
    statementsReps: int('statements-reps', 5, 1),
    latencyN: int('latency-n', 500, 1),
    latencyWarmup: int('latency-warmup', 50, 0),
    throughputN: int('throughput-n', 2000, 1),
    throughputWarmup: int('throughput-warmup', 200, 0),
    throughputReps: int('throughput-reps', 1, 1),
    concurrency,
    inFlight: int('in-flight', 64, 0),
    replaySteps: int('replay-steps', 1000, 1),
    replayReps: int('replay-reps', 3, 1),
    retrySteps: int('retry-steps', 20, 1),
    retryReps: int('retry-reps', 100, 1),
    parallelReps: int('parallel-reps', 10, 1),
    signalN: int('signal-n', 200, 1),
    signalWarmup: int('signal-warmup', 20, 0),
    childN: int('child-n', 100, 1),
    childWarmup: int('child-warmup', 10, 0),
    tracingN: int('tracing-n', 1000, 1),
    tracingLatencyN: int('tracing-latency-n', 200, 1),
    tracingRounds: int('tracing-rounds', 6, 1),
    scaleOutN: int('scale-out-n', 3000, 1),
    scaleOutProcesses,
    verbose: verbose !== undefined && verbose !== '' && verbose !== '0' && verbose !== 'false',
  };
}

function isScenario(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}

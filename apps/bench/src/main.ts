import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { bootBenchApp, setVerboseLogs } from './bench-app';
import { BenchConfig, ConfigError, ScenarioName, USAGE, parseConfig } from './config';
import { BenchTarget, describeServer, prepareBenchTarget, withClient } from './database';
import { emit, note, round } from './report';
import { Scenario } from './scenario';
import { runChild } from './scenarios/child';
import { runLatency } from './scenarios/latency';
import { runParallelScenario } from './scenarios/parallel';
import { REPLAY_CHILD_COMMAND, resumeReplayInThisProcess, runReplay } from './scenarios/replay';
import { runRetention } from './scenarios/retention';
import { runDashboard } from './scenarios/dashboard';
import { runTransactional } from './scenarios/transactional';
import { runRetry } from './scenarios/retry';
import { runScaleOut } from './scenarios/scale-out';
import { runSignal } from './scenarios/signal';
import { runStartMany } from './scenarios/start-many';
import { runStatements } from './scenarios/statements';
import { runThroughput } from './scenarios/throughput';
import { runTracing } from './scenarios/tracing';

const SCENARIOS: Record<ScenarioName, Scenario> = {
  statements: runStatements,
  latency: runLatency,
  throughput: runThroughput,
  replay: runReplay,
  retry: runRetry,
  parallel: runParallelScenario,
  signal: runSignal,
  child: runChild,
  retention: runRetention,
  dashboard: runDashboard,
  transactional: runTransactional,
  'start-many': runStartMany,
  tracing: runTracing,
  'scale-out': runScaleOut,
};

async function main(argv: string[]): Promise<void> {
  if (argv[0] === REPLAY_CHILD_COMMAND) {
    setVerboseLogs(process.env.BENCH_VERBOSE === '1');
    return resumeReplayInThisProcess();
  }
  let config: BenchConfig;
  try {
    config = parseConfig(argv, process.env);
  } catch (err: unknown) {
    if (!(err instanceof ConfigError)) throw err;
    if (err.message) note(`${err.message}\n`);
    note(USAGE);
    process.exitCode = err.message ? 2 : 0;
    return;
  }
  setVerboseLogs(config.verbose);
  const started = performance.now();
  const target = await prepareBenchTarget();
  note(`Kagzi bench: ${config.scenarios.join(', ')} on ${target.label}`);
  await describeEnvironment(target);
  for (const name of config.scenarios) {
    const t = performance.now();
    await SCENARIOS[name]({ target, config });
    note(`[${name}] done in ${round((performance.now() - t) / 1000, 1)} s`);
  }
  note(`Kagzi bench finished in ${round((performance.now() - started) / 1000, 1)} s`);
}

/**
 * The context every figure depends on: CPU count and load (the figures are only comparable on an idle
 * machine) and the server's durability settings. Booting a client-only app first also applies the
 * migrations, so no scenario pays for them.
 */
async function describeEnvironment(target: BenchTarget): Promise<void> {
  const app = await bootBenchApp(target, false);
  try {
    const server = await withClient(app.db.url, describeServer);
    emit({
      scenario: 'environment',
      metric: 'load_avg_1m',
      value: loadavg()[0],
      detail: { cpus: cpus().length, cpu_model: cpus()[0]?.model, node: process.version, database: target.label, ...server },
    });
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    note(`Kagzi bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

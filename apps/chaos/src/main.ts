/**
 * `npm run chaos`: durable workflows under SIGKILL. Starts `--runs` workflows (default 1,000) across
 * `--workers` worker processes (default 3) while every `--kill-every` (default 3 s) one random worker is
 * SIGKILLed and restarted under the same name, then checks from the database that
 *   - every run completed (none failed, none is left PENDING/RUNNING/SLEEPING),
 *   - no committed step executed again (no execution of a step started after its commit),
 * and prints the figures: runs, kills, re-executed uncommitted steps, recovery time per kill, total time.
 * Not part of `npm test`. See docs/reliability.md.
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleLogger, DynamicModule, INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { analyzeRecovery, analyzeSteps, countRuns } from './analysis';
import { ChaosInput, ChaosOutput, STEP_LABELS, WORKFLOW_NAME } from './chaos.workflow';
import { ChaosConfig, ConfigError, parseConfig, seededRandom, USAGE } from './config';
import { describeServer, installInstrumentation, recreateDatabase } from './database';
import { ensureCluster, RestartRecord, restartCluster } from './database-server';
import { Fleet } from './fleet';
import { note, printReport, Summary } from './report';
import { analyzeStalls } from './stall-analysis';

const PROGRESS_EVERY_MS = 5_000;

async function main(argv: string[]): Promise<number> {
  let config: ChaosConfig;
  try {
    config = parseConfig(argv, process.env);
  } catch (err: unknown) {
    if (!(err instanceof ConfigError)) throw err;
    if (err.message) note(`${err.message}\n`);
    note(USAGE);
    return err.message ? 2 : 0;
  }
  const scriptStart = Date.now();
  const loadAtStart = loadavg()[0];
  // Restarts hit a cluster of their own, never the shared server.
  const restartable = config.dbRestarts > 0 ? await ensureCluster(config.dbCluster, config.dbPort, note) : undefined;
  const url = await recreateDatabase(restartable);
  const logDir = mkdtempSync(join(tmpdir(), 'kagzi-chaos-'));
  note(
    `Kagzi chaos: ${config.runs} runs, ${config.workers} workers (concurrency ${config.concurrency}, lease ${config.leaseMs} ms, ` +
      `heartbeat ${config.heartbeatMs} ms, poll ${config.pollMs} ms), ${config.killEveryMs > 0 ? `SIGKILL every ${config.killEveryMs} ms` : 'no SIGKILLs'}, ` +
      `${config.rate > 0 ? `${config.rate} starts/s` : 'all started at once'}, seed ${config.seed}` +
      (config.dbRestarts > 0 ? `, ${config.dbRestarts} database restart(s) of ${config.dbCluster.version}/${config.dbCluster.name}, ${config.dbDownMs} ms down each` : ''),
  );
  note(`database ${url} (recreated); worker logs in ${logDir}`);

  // The client-only app applies the migrations; the instrumentation goes on top of Kagzi's tables.
  class ChaosDriverModule {}
  const module: DynamicModule = { module: ChaosDriverModule, imports: [KagziModule.forRoot({ database: { url }, worker: false })] };
  const app: INestApplicationContext = await NestFactory.createApplicationContext(module, { logger: new StderrLogger({ logLevels: ['error', 'warn'] }) });
  const client = app.get(WorkflowClient);
  const pool = new Pool({ connectionString: url, max: 3 });
  pool.on('error', () => undefined);
  await installInstrumentation(pool);
  const server = await describeServer(pool);

  const fleet = new Fleet(config, url, logDir);
  let exitCode = 1;
  try {
    const bootStart = Date.now();
    await fleet.start();
    note(`${config.workers} workers ready in ${Date.now() - bootStart} ms`);

    const random = seededRandom(config.seed);
    const inputs = Array.from({ length: config.runs }, (_, n) => makeInput(n, random));
    const victims = seededRandom(config.seed + 1);

    const runIds: string[] = [];
    const results = new Map<string, ChaosOutput>();
    const failures = new Map<string, string>();
    const startErrors: string[] = [];
    let settled = 0;
    let skippedKills = 0;

    const chaosStart = Date.now();
    const killTimer =
      config.killEveryMs > 0
        ? setInterval(() => {
            if (!fleet.killRandom(victims)) skippedKills++;
          }, config.killEveryMs)
        : undefined;
    let allSettled = false;
    const dbRestarts: RestartRecord[] = [];
    const restarting = restartable ? restartDuringRun(config, restartable, chaosStart, dbRestarts, () => allSettled) : Promise.resolve();
    const progressTimer = setInterval(() => {
      note(
        `[${String(Math.round((Date.now() - chaosStart) / 1000)).padStart(4)} s] started ${runIds.length}/${config.runs}, ` +
          `finished ${settled}, kills ${fleet.kills.length}, database restarts ${dbRestarts.length}, workers ready ${fleet.readyCount}/${config.workers}`,
      );
    }, PROGRESS_EVERY_MS);

    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < inputs.length; i++) {
      if (config.rate > 0) {
        const due = chaosStart + (i * 1000) / config.rate;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      }
      try {
        const handle = await client.start<ChaosInput, ChaosOutput>(WORKFLOW_NAME, inputs[i]);
        runIds.push(handle.runId);
        waits.push(
          handle.result().then(
            (output) => void results.set(handle.runId, output),
            (err: unknown) => void failures.set(handle.runId, err instanceof Error ? `${err.name}: ${err.message}` : String(err)),
          ).finally(() => settled++),
        );
      } catch (err: unknown) {
        startErrors.push(String(err));
      }
    }
    const startedAllAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(waits).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, chaosStart + config.timeoutMs - Date.now())))),
    ]);
    clearTimeout(timer);
    clearInterval(killTimer);
    clearInterval(progressTimer);
    allSettled = true;
    await restarting;
    const chaosEnd = Date.now();
    if (timedOut) note(`timed out after ${config.timeoutMs} ms: ${runIds.length - settled} run(s) still unfinished; stopping workers`);
    else note(`all runs finished ${chaosEnd - chaosStart} ms after the first start (${chaosEnd - startedAllAt} ms after the last); stopping workers`);
    await fleet.stop();

    const runs = await countRuns(pool, runIds);
    const steps = await analyzeSteps(pool, runIds, results, fleet.kills);
    const boundMs = config.leaseMs + config.pollMs;
    const recovery = await analyzeRecovery(pool, fleet.kills, boundMs);
    const stalls = await analyzeStalls(pool, runIds, dbRestarts);
    const summary: Summary = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAvg1mAtStart: loadAtStart, node: process.version, postgres: server.server_version },
      config,
      runs: { ...runs, started: runIds.length, startErrors: startErrors.length, clientFailures: failures.size, failureSample: [...failures.values()].slice(0, 3) },
      kills: fleet.kills.length,
      skippedKills,
      restarts: fleet.spawned - config.workers,
      nameClashes: fleet.nameClashes,
      unexpectedExits: fleet.unexpectedExits,
      logs: fleet.logs,
      steps,
      recovery,
      recoveryBoundMs: boundMs,
      stalls,
      chaosMs: chaosEnd - chaosStart,
      totalMs: Date.now() - scriptStart,
      timedOut,
      logDir,
      database: url,
      stepsPerRun: STEP_LABELS.length,
    };
    exitCode = printReport(summary) ? 0 : 1;
  } finally {
    await fleet.stop(2_000).catch(() => undefined);
    await app.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
  return exitCode;
}

/** Nest writes warnings to stdout; here stdout carries only the JSON figures, and outages log warnings. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(messages: unknown[], context?: string, logLevel?: LogLevel): void {
    super.printMessages(messages, context, logLevel, 'stderr');
  }
}

/**
 * `--db-restarts` outages, spread evenly over the time the starts take (or 15 s when all start at once),
 * alternately a clean shutdown (`-m fast`) and a crash (`-m immediate`); none once every run has settled.
 */
async function restartDuringRun(config: ChaosConfig, adminUrl: string, chaosStart: number, done: RestartRecord[], finished: () => boolean): Promise<void> {
  const spanMs = config.rate > 0 ? (config.runs * 1000) / config.rate : 15_000;
  for (let n = 1; n <= config.dbRestarts; n++) {
    const due = chaosStart + (n * spanMs) / (config.dbRestarts + 1);
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    if (finished()) return;
    const mode = n % 2 === 1 ? 'fast' : 'immediate';
    note(`[${String(Math.round((Date.now() - chaosStart) / 1000)).padStart(4)} s] database restart ${n}/${config.dbRestarts}: stop -m ${mode}, ${config.dbDownMs} ms down`);
    const record = await restartCluster(config.dbCluster, adminUrl, n, mode, config.dbDownMs);
    done.push(record);
    note(
      `[${String(Math.round((Date.now() - chaosStart) / 1000)).padStart(4)} s] database back after ${record.upAt - record.stopAt} ms ` +
        `(stop ${record.stoppedAt - record.stopAt} ms, start to first session ${record.upAt - record.startAt} ms)`,
    );
  }
}

/** Step bodies of 20-200 ms, a durable sleep of 100-1000 ms, and 0 (60 %), 1 (30 %) or 2 (10 %) transient failures of `charge`. */
function makeInput(n: number, random: () => number): ChaosInput {
  const ms = (): number => 20 + Math.floor(random() * 181);
  const delays = Object.fromEntries(STEP_LABELS.map((label) => [label, ms()])) as ChaosInput['delays'];
  const r = random();
  return { n, delays, sleepMs: 100 + Math.floor(random() * 901), failures: r < 0.6 ? 0 : r < 0.9 ? 1 : 2 };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    note(`Kagzi chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

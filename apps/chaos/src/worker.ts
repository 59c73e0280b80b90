/**
 * One chaos worker process, spawned (and SIGKILLed) by apps/chaos/src/main.ts. Run with
 *   node -r @swc-node/register apps/chaos/src/worker.ts
 * Reports on stdout as JSON lines (`{"event":"ready",...}`, `{"event":"error",...}`); Nest's log lines
 * are interleaved and go to the driver's log file for this process.
 *
 * Env: DB_URL (required), WORKER_NAME, CONCURRENCY, LEASE, HEARTBEAT, POLL (Kagzi durations).
 */
import 'reflect-metadata';
import { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Duration, KagziModule, KagziWorker } from '@kagzi/nestjs';
import { ChaosWorkflow, Effects } from './chaos.workflow';

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...event, t: Date.now() })}\n`);
}

async function main(): Promise<void> {
  const url = process.env.DB_URL;
  if (!url) throw new Error('DB_URL is not set');
  const name = process.env.WORKER_NAME ?? `chaos-${process.pid}`;
  class ChaosWorkerModule {}
  const module: DynamicModule = {
    module: ChaosWorkerModule,
    imports: [
      KagziModule.forRoot({
        database: { url },
        worker: {
          name,
          concurrency: Number(process.env.CONCURRENCY ?? 10),
          leaseDuration: (process.env.LEASE ?? '2s') as Duration,
          heartbeatInterval: (process.env.HEARTBEAT ?? '500ms') as Duration,
          pollInterval: (process.env.POLL ?? '200ms') as Duration,
          shutdownTimeout: '2s',
        },
      }),
    ],
    providers: [Effects, ChaosWorkflow],
  };
  const app = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn', 'log'] });
  // SIGTERM at the end of the chaos test: drain and exit 0.
  app.enableShutdownHooks(['SIGTERM'], { useProcessExit: true });
  await app.get(KagziWorker).ready;
  emit({ event: 'ready', worker: name, pid: process.pid });
}

// Orphan guard: the driver holds our stdin open; when it goes away (even by SIGKILL) we go too.
process.stdin.on('end', () => process.exit(3)).on('error', () => undefined).resume();
process.on('unhandledRejection', (err) => emit({ event: 'unhandledRejection', message: String(err instanceof Error ? err.stack : err) }));

main().catch((err: unknown) => {
  emit({ event: 'error', message: String(err instanceof Error ? err.stack : err) });
  process.exit(1);
});

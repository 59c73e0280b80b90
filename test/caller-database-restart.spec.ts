/**
 * `start(…, { manager })` after a PostgreSQL restart. caller-transaction.ts recognises the caller's
 * database by a fingerprint (name, oid, the server's start time) read once per DataSource and once for
 * Kagzi's pool; a DataSource first used after a restart of the same server reads a newer start time
 * than the one remembered for Kagzi's, and was refused as another database until the app restarted. On
 * a mismatch both are read again. On a private embedded server (the shared test server is never restarted).
 */
import { Injectable } from '@nestjs/common';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { DataSource } from 'typeorm';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../libs/kagzi/src/persistence/embedded-postgres.launcher';
import { bootKagzi, closeAllApps, delay, KagziTestApp } from './support/app';

@Injectable()
class Echo {
  @Step()
  async echo(x: string): Promise<string> {
    return x;
  }
}

@Workflow({ name: 'RestartStart', version: 1 })
class RestartWorkflow implements WorkflowDefinition<string, string> {
  constructor(private readonly e: Echo) {}
  async run(input: string): Promise<string> {
    return this.e.echo(input);
  }
}

let parent = '';
let server: EmbeddedPostgresHandle | undefined;
let kagzi: KagziTestApp;
const sources: DataSource[] = [];

afterAll(async () => {
  await Promise.all(sources.map((s) => (s.isInitialized ? s.destroy().catch(() => undefined) : undefined)));
  await closeAllApps();
  await server?.stop();
  if (parent) await rm(parent, { recursive: true, force: true });
});

test("a DataSource first used after the server restarted is still recognised as Kagzi's database", async () => {
  parent = await mkdtemp(join(tmpdir(), 'kagzi-restart-'));
  const dataDir = join(parent, '.kagzi');
  server = await startEmbeddedPostgres({ dataDir });
  const { url, port } = server;
  kagzi = await bootKagzi({ url, providers: [Echo, RestartWorkflow] });

  const orders = await new DataSource({ type: 'postgres', url }).initialize();
  sources.push(orders);
  await orders.transaction((manager) => kagzi.client.start(RestartWorkflow, 'before', { manager }));

  // The server restarts (maintenance, a crash): same data directory, same port, same database.
  await server.stop();
  server = await startEmbeddedPostgres({ dataDir, port });
  await orders.destroy();
  await delay(1_000);

  // A DataSource opened after the restart (a new tenant, a reconnect), on the very same database.
  const billing = await new DataSource({ type: 'postgres', url }).initialize();
  sources.push(billing);
  const outcome = await billing
    .transaction((manager) => kagzi.client.start(RestartWorkflow, 'after', { manager }))
    .then(
      (h) => `started ${h.runId.length}`,
      (e: unknown) => String(e),
    );
  expect(outcome).toBe('started 36');
}, 120_000);

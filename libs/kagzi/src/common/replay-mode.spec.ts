import { InvalidOptionsError } from '../errors/invalid-options.error';
import { enterReplayMode, inReplayMode } from './replay-mode';
import { resolveKagziOptions } from './resolve-options';

const ENV = { DATABASE_URL: 'postgres://app@db/app' };

// Jest gives each spec file a global object of its own: replay mode does not leak into other specs.
test('replay mode resolves every KagziModule read-only: no worker, migrations, retention or boot retries; no embedded database', () => {
  const production = { worker: { concurrency: 20 }, retention: '30d', migrationsRun: true, retryAttempts: 5 } as const;
  expect(resolveKagziOptions(production, ENV)).toMatchObject({ worker: { concurrency: 20 }, migrationsRun: true, retentionMs: 30 * 86_400_000, retryAttempts: 5 });
  expect(resolveKagziOptions(production, ENV).replay).toBeUndefined();
  expect(inReplayMode()).toBe(false);
  enterReplayMode();
  expect(inReplayMode()).toBe(true);
  const replay = resolveKagziOptions(production, ENV);
  expect(replay).toMatchObject({ worker: false, migrationsRun: false, retentionMs: undefined, retryAttempts: 0, replay: true, database: { kind: 'url', url: ENV.DATABASE_URL } });
  expect(() => resolveKagziOptions({}, {})).toThrow(InvalidOptionsError);
  expect(() => resolveKagziOptions({ database: { embedded: true } }, ENV)).toThrow(/In replay mode \(kagzi replay\) KagziModule needs a database URL/);
});

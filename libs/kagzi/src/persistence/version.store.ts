import { KagziDatabase } from './kagzi-database';
import { VersionRow } from './run.rows';
import { defaultVersion } from './sql/default-version.sql';
import { deprecateVersion } from './sql/deprecate-version.sql';
import { listVersions } from './sql/list-versions.sql';
import { lockWorkflowName } from './sql/lock-workflow-name.sql';
import { registerVersions } from './sql/register-versions.sql';
import { setDefaultVersion } from './sql/set-default-version.sql';
import { BoundStatement } from './statement';
import { ServedPairs } from './store.types';

/** Workflow versions: registration, the default version, deprecation, listing. */
export class VersionStore {
  constructor(private readonly db: KagziDatabase) {}

  /** Records (name, version) pairs; `byWorker` when a worker records the pairs it serves. */
  async registerVersions(pairs: ServedPairs, byWorker: boolean): Promise<void> {
    if (pairs.names.length > 0) await this.db.run(registerVersions.with({ ...pairs, byWorker }));
  }

  async defaultVersion(name: string): Promise<{ known_versions: number; version: number | null }> {
    const [row] = await this.db.run<{ known_versions: number; version: number | null }>(defaultVersion.with({ name }));
    return row;
  }

  async setDefaultVersion(name: string, version: number): Promise<{ known_versions: number; version_known: boolean; usable: boolean }> {
    return this.underNameLock(name, setDefaultVersion.with({ name, version }));
  }

  async deprecateVersion(
    name: string,
    version: number,
  ): Promise<{ known_versions: number; version_known: boolean; default_version: number | null; deprecated: boolean }> {
    return this.underNameLock(name, deprecateVersion.with({ name, version }));
  }

  /** One version-changing statement, serialised with every other one for the same workflow name. */
  private underNameLock<R extends object>(name: string, statement: BoundStatement): Promise<R> {
    return this.db.transaction(async (run) => {
      await run(lockWorkflowName.with({ name }));
      const [row] = await run<R & Record<string, unknown>>(statement);
      return row;
    });
  }

  /** The versions of `name`, or of every workflow (by name, then version) when it is null. */
  listVersions(name: string | null): Promise<VersionRow[]> {
    return this.db.run<VersionRow>(listVersions.with({ name }));
  }
}

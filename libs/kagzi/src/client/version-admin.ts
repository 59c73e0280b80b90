import { DefaultVersionError } from '../errors/default-version.error';
import { WorkflowVersionDeprecatedError } from '../errors/workflow-version-deprecated.error';
import { ConnectionRetry } from '../persistence/connection-retry';
import { VersionStore } from '../persistence/version.store';
import { assertName, assertVersion } from './client-input';
import { unknownVersion, unknownWorkflow } from './version-errors';

/** The client's version calls: the database-held default and deprecation, with typed refusals (the version list is a read: RunQueries). */
export class VersionAdmin {
  constructor(
    private readonly versions: VersionStore,
    private readonly retry: ConnectionRetry,
  ) {}

  /** The version `start()` uses without `options.version`: the default set, else the highest not deprecated. */
  async getDefault(name: string): Promise<number> {
    assertName(name);
    const found = await this.retry.run(`getDefaultVersion('${name}')`, () => this.versions.defaultVersion(name));
    if (found.known_versions === 0) throw unknownWorkflow(name);
    if (found.version === null) throw new DefaultVersionError(`Every version of workflow "${name}" is deprecated; register a new version`);
    return found.version;
  }

  /** Makes `version` the default for new runs of `name`, in every process at once. */
  async setDefault(name: string, version: number): Promise<void> {
    assertName(name);
    assertVersion(version);
    const result = await this.retry.run(`setDefaultVersion('${name}', ${version})`, () => this.versions.setDefaultVersion(name, version));
    if (result.known_versions === 0) throw unknownWorkflow(name);
    if (!result.version_known) throw unknownVersion(name, version);
    if (!result.usable) throw new WorkflowVersionDeprecatedError(`Workflow "${name}" version ${version} is deprecated and cannot be the default`);
  }

  /**
   * No new runs may start on `version`; runs in flight on it still finish. Refused for the version
   * `start()` uses now: set another default first.
   */
  async deprecate(name: string, version: number): Promise<void> {
    assertName(name);
    assertVersion(version);
    const result = await this.retry.run(`deprecateVersion('${name}', ${version})`, () => this.versions.deprecateVersion(name, version));
    if (result.known_versions === 0) throw unknownWorkflow(name);
    if (!result.version_known) throw unknownVersion(name, version);
    if (!result.deprecated) {
      throw new DefaultVersionError(
        `Workflow "${name}" version ${version} is the current default; call setDefaultVersion('${name}', <another version>) before deprecating it`,
      );
    }
  }
}

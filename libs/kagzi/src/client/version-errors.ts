import { DefaultVersionError } from '../errors/default-version.error';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error';
import { WorkflowVersionDeprecatedError } from '../errors/workflow-version-deprecated.error';
import { WorkflowVersionNotFoundError } from '../errors/workflow-version-not-found.error';
import { InsertRunResult } from '../persistence/run.rows';

/** The typed errors for a workflow name or version the database does not know or will not start. */

export function unknownWorkflow(name: string): WorkflowNotFoundError {
  return new WorkflowNotFoundError(
    `No workflow named "${name}" is registered: no @Workflow class in this process and no other process has recorded it. Check the name, or start a process that declares it.`,
  );
}

export function unknownVersion(name: string, version: number | undefined): WorkflowVersionNotFoundError {
  return new WorkflowVersionNotFoundError(`Workflow "${name}" has no version ${String(version)}; listVersions('${name}') shows the registered ones`);
}

export function versionError(name: string, requested: number | undefined, result: InsertRunResult): Error {
  if (result.known_versions === 0) return unknownWorkflow(name);
  if (result.version === null) return new DefaultVersionError(`Every version of workflow "${name}" is deprecated; register a new version`);
  if (!result.version_known) return unknownVersion(name, requested);
  return new WorkflowVersionDeprecatedError(
    `Workflow "${name}" version ${result.version} is deprecated: new runs cannot start on it. Start the default version (omit options.version) or another one`,
  );
}

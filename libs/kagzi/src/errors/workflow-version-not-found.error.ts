import { WorkflowNotFoundError } from './workflow-not-found.error';

/** The workflow exists, but no process has registered that version of it. */
export class WorkflowVersionNotFoundError extends WorkflowNotFoundError {
  override readonly code: string = 'KAGZI_VERSION_NOT_FOUND';
}

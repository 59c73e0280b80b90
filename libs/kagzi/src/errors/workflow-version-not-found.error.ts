import { WorkflowNotFoundError } from './workflow-not-found.error';

/** The workflow exists, but no process has registered that version of it. */
export class WorkflowVersionNotFoundError extends WorkflowNotFoundError {
  /** Always `'KAGZI_VERSION_NOT_FOUND'`. */
  override readonly code: string = 'KAGZI_VERSION_NOT_FOUND';
}

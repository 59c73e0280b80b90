import { KagziError } from './kagzi.error';

/** No worker and no class in this process registers a workflow of that name. */
export class WorkflowNotFoundError extends KagziError {
  /** Always `'KAGZI_WORKFLOW_NOT_FOUND'`. */
  readonly code: string = 'KAGZI_WORKFLOW_NOT_FOUND';
}

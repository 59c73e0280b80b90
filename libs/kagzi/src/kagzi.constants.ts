export const WORKFLOW_METADATA = 'kagzi:workflow';
export const STEP_METADATA = 'kagzi:step';
/** Injection token of the resolved module options. */
export const KAGZI_RESOLVED_OPTIONS = Symbol('KAGZI_RESOLVED_OPTIONS');

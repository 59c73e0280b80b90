import { readPackageVersion } from './common/package-version';

export const WORKFLOW_METADATA = 'kagzi:workflow';
export const STEP_METADATA = 'kagzi:step';
/** Injection token of the resolved module options. */
export const KAGZI_RESOLVED_OPTIONS = Symbol('KAGZI_RESOLVED_OPTIONS');
/** Recorded with each worker, so an operator sees which library version a worker runs (from package.json). */
export const KAGZI_VERSION = readPackageVersion();

/** Workflow and step names are stored as text and a workflow's name travels in NOTIFY payloads: keep them short and storable. */
export const MAX_NAME_LENGTH = 200;

/** What is wrong with a workflow or step name, or undefined when it is fine. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters; got ${name.length}`;
  return textProblem(name);
}

/** A half of a UTF-16 surrogate pair without its other half: not a character, and stored as U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What PostgreSQL text cannot hold as given: NUL (SQLSTATE 22021), and lone surrogates, which the
 * driver turns into U+FFFD, so that different keys or names would be stored as one.
 */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it contains a lone surrogate)';
  return undefined;
}

/**
 * A (workflow, version) pair as one text, the way workers record what they serve (`workers.workflows`).
 * The database builds the same text with `workflow_pair(name, version)` (migration 6).
 */
export function workflowPair(name: string, version: number): string {
  return `${name}@${version}`;
}

/** Workflow and step names are stored as text and a workflow's name travels in NOTIFY payloads: keep them short and storable. */
export const MAX_NAME_LENGTH = 200;

/** What is wrong with a workflow or step name, or undefined when it is fine. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters; got ${name.length}`;
  // PostgreSQL text cannot hold NUL (SQLSTATE 22021)
  if (name.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  return undefined;
}

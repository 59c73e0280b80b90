/**
 * What step bodies and workflow functions did, recorded where they run, so a test counts side
 * effects instead of inferring them ("the step ran once" is a count of 1).
 *
 * Entries are keyed by a name (a step or workflow name) and a subject (a run id, a branch, …), e.g.
 * `effects.enter('Payments.charge', orderId)`. One instance per fixture file; `reset()` between tests.
 */
export class SideEffects {
  private readonly bodies = new Map<string, number>();
  private readonly runs = new Map<string, number>();
  private readonly starts = new Map<string, number[]>();
  private readonly ends = new Map<string, number[]>();
  private readonly failures = new Map<string, number[]>();
  private readonly values = new Map<string, unknown>();
  private readonly signals = new Map<string, AbortSignal[]>();

  /** A step body starts: records the time; returns which execution this is (1 for the first). */
  enter(step: string, subject = ''): number {
    const key = keyOf(step, subject);
    push(this.starts, key, Date.now());
    return bump(this.bodies, key);
  }

  /** A step body returns `value`: records the time and the value, and returns the value. */
  leave<T>(step: string, subject: string, value: T): T {
    const key = keyOf(step, subject);
    push(this.ends, key, Date.now());
    this.values.set(key, value);
    return value;
  }

  /** A step body throws `error`: records the time, then throws it. */
  fail(step: string, subject: string, error: unknown): never {
    push(this.failures, keyOf(step, subject), Date.now());
    throw error;
  }

  /** Counts one more occurrence of something that is not a body entry (a gate passed, a hook called); returns the new count. */
  bump(event: string, subject = ''): number {
    return bump(this.bodies, keyOf(event, subject));
  }

  /** A workflow function is entered (its first execution or a replay); returns how often so far. */
  enterRun(workflow: string, subject = ''): number {
    return bump(this.runs, keyOf(workflow, subject));
  }

  /** A step body's attempt signal (`stepSignal()`), kept so the test can see whether it was aborted. */
  keepSignal(step: string, subject: string, signal: AbortSignal): void {
    push(this.signals, keyOf(step, subject), signal);
  }

  /** How often a step body was entered (or an event bumped). */
  count(step: string, subject = ''): number {
    return this.bodies.get(keyOf(step, subject)) ?? 0;
  }

  /** How often a workflow function was entered: 1 without a replay. */
  runEntries(workflow: string, subject = ''): number {
    return this.runs.get(keyOf(workflow, subject)) ?? 0;
  }

  /** When each execution of a body started (Date.now()), oldest first. */
  startedAt(step: string, subject = ''): number[] {
    return this.starts.get(keyOf(step, subject)) ?? [];
  }

  /** When each execution of a body returned, oldest first. */
  endedAt(step: string, subject = ''): number[] {
    return this.ends.get(keyOf(step, subject)) ?? [];
  }

  /** When each execution of a body threw, oldest first. */
  failedAt(step: string, subject = ''): number[] {
    return this.failures.get(keyOf(step, subject)) ?? [];
  }

  /** Whether any execution of the body has returned. */
  hasEnded(step: string, subject = ''): boolean {
    return this.ends.has(keyOf(step, subject));
  }

  /** The value the latest execution of a body returned (undefined if none did). */
  value(step: string, subject = ''): unknown {
    return this.values.get(keyOf(step, subject));
  }

  /** The attempt signal of the latest execution of a body (undefined if none kept one). */
  signal(step: string, subject = ''): AbortSignal | undefined {
    return this.signals.get(keyOf(step, subject))?.at(-1);
  }

  /** Every attempt signal a body kept, oldest first. */
  signalsOf(step: string, subject = ''): AbortSignal[] {
    return this.signals.get(keyOf(step, subject)) ?? [];
  }

  /** Forgets everything recorded. */
  reset(): void {
    for (const map of [this.bodies, this.runs, this.starts, this.ends, this.failures, this.values, this.signals]) map.clear();
  }
}

const keyOf = (name: string, subject: string): string => `${name}|${subject}`;

function bump(map: Map<string, number>, key: string): number {
  const n = (map.get(key) ?? 0) + 1;
  map.set(key, n);
  return n;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}

/** What a group statement says of one item: written, not written (its fence held nothing), or left to its own statement. */
export type GroupOutcome = boolean | undefined;

interface Pending<T> {
  item: T;
  resolve(written: boolean): void;
  reject(err: unknown): void;
}

/**
 * Group writes of one kind (step records, run ends). An item is written at once by its own statement
 * when no statement of this writer is in flight; items that arrive while one is (from the other runs
 * and branches of this process) wait for it and then go together in one group statement, so under
 * load many share one round trip and one transaction, and alone an item pays nothing extra. Items the
 * group statement leaves (`undefined`) are written by their own statement; if the group statement
 * fails, every item is, so one item's trouble (a lock conflict, a deadlock victim) is never another's:
 * each caller sees what its own statement did.
 */
export class GroupWriter<T> {
  private queue: Array<Pending<T>> = [];
  private flying = false;

  constructor(
    /** One item's own statement: whether it wrote. */
    private readonly one: (item: T) => Promise<boolean>,
    /** The group statement: an outcome per item, in order. */
    private readonly many: (items: T[]) => Promise<GroupOutcome[]>,
    /** Items per group statement at most. */
    private readonly maxGroup: number,
  ) {}

  /** Resolves true when the item was written, false when its fence held nothing. */
  write(item: T): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // Items submitted in this same tick join the first statement too.
      if (!this.flying) {
        this.flying = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxGroup);
      await (group.length === 1 ? this.sendOne(group[0]) : this.sendMany(group));
    }
    this.flying = false;
  }

  private async sendOne(pending: Pending<T>): Promise<void> {
    try {
      pending.resolve(await this.one(pending.item));
    } catch (err: unknown) {
      pending.reject(err);
    }
  }

  private async sendMany(group: Array<Pending<T>>): Promise<void> {
    let outcomes: GroupOutcome[] = [];
    try {
      outcomes = await this.many(group.map((p) => p.item));
    } catch {
      // replayed item by item below
    }
    await Promise.all(group.map((p, i) => (outcomes[i] === undefined ? this.sendOne(p) : p.resolve(outcomes[i]))));
  }
}

/** Rows as one JSON array; a JSON-text output is embedded as it is, as `{"v": output}` (a bare JSON null would come out of json_to_recordset as SQL NULL). */
export function jsonRows(rows: ReadonlyArray<{ fields: Record<string, unknown>; output: string | null }>): string {
  const parts = rows.map(({ fields, output }) => {
    const text = JSON.stringify(fields);
    return output === null ? text : `${text.slice(0, -1)},"output":{"v":${output}}}`;
  });
  return `[${parts.join(',')}]`;
}

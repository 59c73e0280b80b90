/** A statement with its values bound, ready for `KagziDatabase.run`. */
export interface BoundStatement {
  /** The short name; the prepared-statement name adds a tag of the schema (see `statementName`). */
  readonly name: string;
  text(schema: string): string;
  readonly values: unknown[];
}

/**
 * One SQL statement: its name, its text for a schema and the values it binds, computed from named
 * arguments, so a reader sees the placeholders and what fills them in one file.
 */
export interface Statement<A> {
  readonly name: string;
  /** The text for `schema`, built once per schema. */
  text(schema: string): string;
  /** The values array, `$1` first. */
  values(args: A): unknown[];
  /** This statement with the values of `args`. */
  with(args: A): BoundStatement;
}

export function statement<A = void>(name: string, text: (schema: string) => string, values: (args: A) => unknown[]): Statement<A> {
  const texts = new Map<string, string>();
  const textFor = (schema: string): string => {
    let built = texts.get(schema);
    if (built === undefined) {
      built = text(schema);
      texts.set(schema, built);
    }
    return built;
  };
  return { name, text: textFor, values, with: (args) => ({ name, text: textFor, values: values(args) }) };
}

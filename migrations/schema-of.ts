import { QueryRunner } from 'typeorm';

/** The schema Kagzi's tables live in: the DataSource's `schema` option (default 'kagzi'). */
export function kagziSchemaOf(queryRunner: QueryRunner): string {
  const options = queryRunner.connection.options as { schema?: string };
  return options.schema ?? 'kagzi';
}

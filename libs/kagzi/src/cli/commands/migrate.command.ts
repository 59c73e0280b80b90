import { Command } from 'commander';
import { kagziAction } from '../kagzi-action';
import { readAppliedMigrations } from '../migration-history';

/** `kagzi migrate`: the only command that changes the schema. */
export function addMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description("applies Kagzi's pending migrations to the schema (for apps that set migrationsRun: false)")
    .action(
      kagziAction(async ({ target, session }) => {
        const before = await readAppliedMigrations(target);
        await session({ migrate: true });
        const after = await readAppliedMigrations(target);
        const applied = after.filter((name) => !before.includes(name));
        const latest = after[after.length - 1] ?? 'none';
        const text =
          applied.length === 0
            ? `Schema "${target.schema}" is up to date: ${after.length} migrations applied, the latest ${latest}`
            : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to schema "${target.schema}": ${applied.join(', ')}`;
        return { data: { schema: target.schema, applied, migrations: after }, text };
      }),
    );
}

import { DatabaseUnavailableError } from '../errors/database-unavailable.error';
import { KagziError } from '../errors/kagzi.error';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error';
import { isConnectionFailure } from '../persistence/connection-failure';
import { CliError } from './cli-errors';
import { CliTarget } from './cli-target';

/** What the CLI prints after `kagzi: ` on stderr, and the exit code. */
export interface Failure {
  message: string;
  exitCode: number;
}

/**
 * One line for any failure of a command: the CLI's own errors as they are, the library's typed errors
 * by class, PostgreSQL's by SQLSTATE with what to do about the common ones, anything else as unexpected.
 */
export function describeFailure(err: unknown, target?: CliTarget): Failure {
  return { message: oneLine(messageFor(err, target)), exitCode: err instanceof CliError ? err.exitCode : 1 };
}

function messageFor(err: unknown, target: CliTarget | undefined): string {
  const at = target ? ` at ${target.shownUrl}` : '';
  if (err instanceof CliError) return err.message;
  if (err instanceof DatabaseUnavailableError || isConnectionFailure(err)) return `database unreachable${at}: ${rootMessage(err)}`;
  // Not its subclasses (an unknown version): their messages say what to do already.
  if (err instanceof WorkflowNotFoundError && err.code === 'KAGZI_WORKFLOW_NOT_FOUND') return `${lowerFirst(err.message.replace(/:.*$/s, ''))}${target ? ` in schema "${target.schema}"` : ''}: check the name`;
  if (err instanceof KagziError) return lowerFirst(inCliTerms(err.message));
  const sqlState = codeOf(err);
  if (sqlState && /^[0-9A-Z]{5}$/.test(sqlState)) return databaseMessage(sqlState, messageOf(err), target);
  return `unexpected error: ${messageOf(err)}`;
}

function databaseMessage(sqlState: string, message: string, target: CliTarget | undefined): string {
  const at = target ? ` at ${target.shownUrl}` : '';
  const schema = target ? `schema "${target.schema}"` : 'the schema';
  // undefined_table, invalid_schema_name: nothing migrated here (or the wrong --schema)
  if (sqlState === '42P01' || sqlState === '3F000') return `no Kagzi tables in ${schema}${at}: run \`kagzi migrate\`, or check --schema (${message})`;
  // undefined_column, undefined_function: tables of an older Kagzi
  if (sqlState === '42703' || sqlState === '42883') return `the Kagzi tables in ${schema}${at} are older than this kagzi: run \`kagzi migrate\` (${message})`;
  if (sqlState.startsWith('28')) return `cannot log in to the database${at}: ${message}`;
  return `database error${at}: ${message} (SQLSTATE ${sqlState})`;
}

/** The innermost message of a cause chain: "connect ECONNREFUSED 127.0.0.1:5432", not the wrapper's story. */
function rootMessage(err: unknown): string {
  let inner: unknown = err;
  for (let depth = 0; depth < 10 && inner instanceof Error && inner.cause !== undefined; depth++) inner = inner.cause;
  return messageOf(inner);
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && !err.message) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function codeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** The library's messages name client methods; at the command line, name the commands that do the same. */
function inCliTerms(message: string): string {
  return message
    .replace(/listVersions\('([^']*)'\)/g, '`kagzi versions list $1`')
    .replace(/setDefaultVersion\('([^']*)', <another version>\)/g, '`kagzi versions set-default $1 <another version>`');
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

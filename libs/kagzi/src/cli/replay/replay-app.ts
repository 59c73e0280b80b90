import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConsoleLogger, INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { enterReplayMode } from '../../common/replay-mode';
import { WorkflowRegistry } from '../../discovery/workflow.registry';
import { CliError } from '../cli-errors';
import { describeFailure } from '../failure-message';

/** The keys @Module() stores its metadata under (Nest's MODULE_METADATA). */
const MODULE_KEYS = ['imports', 'providers', 'controllers', 'exports'];

/** An app booted for `kagzi replay`: its module context in replay mode, and what it registers. */
export interface ReplayApp {
  /** `AppModule (dist/app.module.js)`: how messages name the app. */
  readonly label: string;
  /** The workflow versions the app registers (its @Workflow classes), by name, then version. */
  readonly workflows: ReadonlyArray<{ name: string; version: number }>;
  registers(name: string, version: number): boolean;
  close(): Promise<void>;
}

/**
 * Loads the module class `exportName` from the file at `path` (compiled JS; a .ts file needs
 * @swc-node/register, loaded here when it is installed) and boots it in replay mode: a Nest application
 * context that writes nothing (see common/replay-mode.ts) and logs only errors.
 */
export async function bootReplayApp(path: string, exportName: string | undefined): Promise<ReplayApp> {
  enterReplayMode(); // before the app's code loads: everything it boots is read-only
  const { module, name } = pickModule(await loadFile(path), path, exportName);
  const label = `${name} (${path})`;
  let context: INestApplicationContext;
  try {
    context = await NestFactory.createApplicationContext(module, { logger: new AppErrorLogger({ logLevels: ['error'] }), abortOnError: false });
  } catch (err: unknown) {
    throw new CliError(`the app's ${label} did not boot: ${bootFailure(err)}`);
  }
  let registry: WorkflowRegistry;
  try {
    registry = context.get(WorkflowRegistry, { strict: false });
  } catch {
    await context.close().catch(() => undefined);
    throw new CliError(
      `the app's ${label} does not import KagziModule, or imports another copy of @kagzi/nestjs than this kagzi's ` +
        "(run the kagzi installed with the app: npx kagzi)",
    );
  }
  let closing: Promise<void> | undefined;
  return {
    label,
    workflows: registry.all().map(({ name: w, version }) => ({ name: w, version })).sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version),
    registers: (workflow, version) => registry.get(workflow, version) !== undefined,
    close: () => (closing ??= context.close()),
  };
}

async function loadFile(path: string): Promise<Record<string, unknown>> {
  const file = resolve(path);
  if (!existsSync(file)) throw new CliError(`--app ${path}: no such file (${file})`);
  if (/\.[cm]?ts$/.test(file)) await compileTypeScript(path);
  try {
    return (await import(file)) as Record<string, unknown>;
  } catch (err: unknown) {
    throw new CliError(`cannot load the app ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** TypeScript is compiled on the fly by @swc-node/register (as bin/kagzi.js does for kagzi's own sources). */
async function compileTypeScript(path: string): Promise<void> {
  if (require.extensions['.ts']) return; // already registered (kagzi itself runs from its sources)
  try {
    const register = '@swc-node/register'; // a development tool, not a dependency of kagzi
    await import(register);
  } catch {
    throw new CliError(`--app ${path} is TypeScript: pass the compiled JavaScript, or install @swc-node/register to load it`);
  }
}

/** `exportName`, else `AppModule`, else the default export, else the only exported @Module class. */
function pickModule(exports: Record<string, unknown>, path: string, exportName: string | undefined): { module: Type<unknown>; name: string } {
  const classes = Object.keys(exports).filter((key) => isClass(exports[key])).sort();
  const listed = classes.length > 0 ? classes.join(', ') : 'none';
  if (exportName !== undefined) {
    const value = exports[exportName];
    if (!isClass(value)) throw new CliError(`the app ${path} exports no class "${exportName}" (classes it exports: ${listed})`);
    return { module: value, name: exportName };
  }
  for (const key of ['AppModule', 'default']) {
    const value = exports[key];
    if (isClass(value)) return { module: value, name: key === 'default' ? value.name || 'default export' : key };
  }
  const modules = classes.filter((key) => isModule(exports[key]));
  if (modules.length === 1) return { module: exports[modules[0]] as Type<unknown>, name: modules[0] };
  const found = modules.length === 0 ? 'no @Module class' : `${modules.length} @Module classes (${modules.join(', ')})`;
  throw new CliError(`the app ${path} exports no AppModule, no default export and ${found}: pass --export <name>`);
}

function isClass(value: unknown): value is Type<unknown> {
  return typeof value === 'function' && value.prototype !== undefined;
}

function isModule(value: unknown): boolean {
  return isClass(value) && MODULE_KEYS.some((key) => Reflect.hasOwnMetadata(key, value));
}

/** The app's own error logs; not Nest's report of a failed boot, which the CLI reports itself in one line. */
class AppErrorLogger extends ConsoleLogger {
  override error(message: unknown, ...rest: unknown[]): void {
    if (rest[rest.length - 1] !== 'ExceptionHandler') super.error(message, ...rest);
  }
}

/** Why the boot failed: the library's or the database's message, else the first paragraph of the error's (Nest's run on). */
function bootFailure(err: unknown): string {
  const described = describeFailure(err).message;
  if (!described.startsWith('unexpected error: ')) return described;
  const paragraph = (err instanceof Error ? err.message : String(err)).split(/\n\s*\n/)[0];
  return paragraph.replace(/\s*\n\s*/g, ' ').trim();
}

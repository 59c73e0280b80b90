/**
 * The `kagzi` CLI as an operator runs it, for the CLI specs: bin/kagzi.js in a child process, its exit
 * code and output collected, killed after 30 s.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const LAUNCHER = join(ROOT, 'bin', 'kagzi.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kagzi ...args` with DATABASE_URL set to `databaseUrl` (and KAGZI_DATABASE_URL unset) unless `env` overrides it. */
export function runCli(databaseUrl: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, ...env };
  delete childEnv.KAGZI_DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Exit `code`, nothing on stdout, and exactly one line on stderr: `kagzi: …` matching `message`. */
export function expectOneLineError(result: CliResult, code: 1 | 2, message: RegExp): void {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: '' });
  expect(result.stderr).toMatch(/^kagzi: [^\n]+\n$/);
  expect(result.stderr).toMatch(message);
}

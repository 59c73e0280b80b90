import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

/** A file of the UI, read once at boot. */
export interface DashboardAsset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The UI's files (`dashboard-ui/` beside the package's package.json), found by walking up from this
 * file: the same directory from the sources, the build and an installed package. Only the files found
 * here at boot are ever served, by name: no path from a request reaches the file system.
 */
export function loadDashboardAssets(from: string = __dirname): Map<string, DashboardAsset> {
  const dir = findUiDirectory(from);
  const assets = new Map<string, DashboardAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { body: readFileSync(join(dir, name)), type });
  }
  if (!assets.has('index.html')) throw new Error(`The Kagzi dashboard's files are incomplete: no index.html in ${dir}`);
  return assets;
}

function findUiDirectory(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dashboard-ui');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`The Kagzi dashboard's files (dashboard-ui/) were not found above ${from}; reinstall @kagzi/nestjs`);
  }
}

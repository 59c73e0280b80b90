import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = '@kagzi/nestjs';

/**
 * The version in the library's own package.json, found by walking up from this file: the same answer
 * from the sources (libs/kagzi/src), the build (libs/kagzi/dist/...) and an installed package.
 */
export function readPackageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const version = versionIn(join(dir, 'package.json'));
    if (version !== undefined) return version;
    if (dirname(dir) === dir) return 'unknown';
  }
}

function versionIn(file: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    return pkg.name === PACKAGE_NAME && typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined; // no package.json here, or not ours: keep walking up
  }
}

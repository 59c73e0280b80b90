import { randomBytes } from 'node:crypto';
import { chmod, chown, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import type { OsUser } from './embedded-postgres.process';

/** The superuser's password, one per data directory, readable by its owner only. */
export const PASSWORD_FILE = 'postgres.password';
/** What versions before the password file used for every embedded cluster. */
const FIXED_PASSWORD = 'kagzi';

/** Reads `<dataDir>/postgres.password`, creating it with a fresh random password if it does not exist. */
export async function loadOrCreatePassword(dataDir: string): Promise<string> {
  const file = join(dataDir, PASSWORD_FILE);
  try {
    await writeFile(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // kept from an earlier start (or a racing one)
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  const password = (await readFile(file, 'utf8')).trim();
  if (!password) throw new Error(`${file} is empty: delete it only together with the cluster in ${join(dataDir, 'pg')}`);
  return password;
}

/** initdb reads the password from a file: a private copy, readable by the OS user initdb runs as. */
export async function withInitdbPasswordFile<T>(dataDir: string, password: string, user: OsUser | undefined, work: (file: string) => Promise<T>): Promise<T> {
  const file = join(dataDir, `.initdb-password-${randomBytes(4).toString('hex')}`);
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (user) await chown(file, user.uid, user.gid);
    return await work(file);
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Connects as the superuser. A cluster initialised by an earlier version still has the fixed password,
 * which any local user could use: on the first start after the upgrade it is replaced by `password`.
 */
export async function connectAsSuperuser(port: number, password: string, database: string, log?: (line: string) => void): Promise<Client> {
  const connect = async (pw: string): Promise<Client> => {
    const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password: pw, database });
    await client.connect();
    return client;
  };
  try {
    return await connect(password);
  } catch (e: unknown) {
    if ((e as { code?: string }).code !== '28P01') throw e; // 28P01: invalid_password
    const legacy = await connect(FIXED_PASSWORD).catch(() => undefined);
    if (!legacy) throw new Error(`the password in ${PASSWORD_FILE} is not the cluster's: restore the file, or delete the data directory to start afresh`, { cause: e });
    try {
      await legacy.query(`alter role postgres password ${legacy.escapeLiteral(password)}`);
    } finally {
      await legacy.end();
    }
    log?.(`replaced the fixed superuser password of an earlier version with the one in ${PASSWORD_FILE}`);
    return connect(password);
  }
}

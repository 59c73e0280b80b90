/** What a redacted value is stored as. */
export const REDACTED = '[REDACTED]';

// Compared after lower-casing and dropping '-', '_', '.' and spaces, so `X-Api-Key`, `api_key` and
// `apiKey` are one name. A key containing any of these parts is a secret (`dbPassword`, `githubToken`).
const SECRET_PARTS = ['authorization', 'cookie', 'password', 'passwd', 'secret', 'token', 'apikey', 'privatekey', 'accesskey', 'credential', 'sessionid'];
// Whole objects that carry credentials: HTTP clients put the request config, its headers and the
// underlying request on their errors (axios: `config`, `request`, `response.headers`).
const SECRET_KEYS = new Set(['headers', 'config', 'request', 'auth', 'jwt', 'pwd']);

/** Whether a value stored under `key` must never be stored with an error. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, '');
  return SECRET_KEYS.has(k) || SECRET_PARTS.some((part) => k.includes(part));
}

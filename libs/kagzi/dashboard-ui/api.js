// The dashboard's JSON API, called relative to the page ({path}/api/...), so any mount path works.

/** A refusal or failure of the API: the HTTP status and the `{ code, message }` body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** "403 KAGZI_READ_ONLY: the dashboard is read-only" */
  describe() {
    return `${this.status || 'network'} ${this.code}: ${this.message}`;
  }
}

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(`api/${path}`, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK_ERROR', `the server could not be reached (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const code = data && typeof data.code === 'string' ? data.code : `HTTP_${response.status}`;
    const message = data && typeof data.message === 'string' ? data.message : response.statusText || 'request failed';
    throw new ApiError(response.status, code, message);
  }
  return data;
}

const enc = encodeURIComponent;

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const api = {
  info: () => call('GET', 'info'),
  stats: () => call('GET', 'stats'),
  /** filter: { workflow, status: string[], q, cursor, limit } */
  runs: (filter = {}) =>
    call('GET', `runs${query({ ...filter, status: filter.status && filter.status.length ? filter.status.join(',') : undefined })}`),
  run: (runId) => call('GET', `runs/${enc(runId)}`),
  cancel: (runId, reason) => call('POST', `runs/${enc(runId)}/cancel`, reason ? { reason } : {}),
  retry: (runId) => call('POST', `runs/${enc(runId)}/retry`, {}),
  signal: (runId, name, payload) => call('POST', `runs/${enc(runId)}/signal`, payload === undefined ? { name } : { name, payload }),
  workflows: () => call('GET', 'workflows'),
  setDefault: (name, version) => call('POST', `workflows/${enc(name)}/default`, { version }),
  deprecate: (name, version) => call('POST', `workflows/${enc(name)}/versions/${enc(version)}/deprecate`, {}),
  workers: () => call('GET', 'workers'),
  schedules: () => call('GET', 'schedules'),
};

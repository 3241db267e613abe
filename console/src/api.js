// Calls to the runledger API: same-origin relative paths, the key as a bearer token.

const KEY_ITEM = 'runledger.console.key';

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_ITEM) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch {
    /* storage unavailable: the key lives only as long as the page */
  }
  memoryKey = key || '';
}

let memoryKey = '';
const currentKey = () => getKey() || memoryKey;

// Listeners told when the API refuses the key (401), so the app can ask for it again.
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export class ApiError extends Error {
  constructor({ status = 0, code = '', message = '', parameter = '', requestId = '', retryAfter = null, network = false }) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.parameter = parameter;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.network = network;
  }
}

export const enc = encodeURIComponent;

export function projectPath(project, rest) {
  return `/v1/projects/${enc(project)}${rest}`;
}

// Query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// A link the API returned (absolute, built from its public base URL) as a same-origin path.
export function sameOrigin(link) {
  const u = new URL(link, location.href);
  return u.pathname + u.search;
}

// Seconds to wait from a Retry-After header (seconds or an HTTP date).
function retryAfterSeconds(value) {
  if (!value) return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, Math.ceil((t - Date.now()) / 1000)) : null;
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => (clearTimeout(t), reject(new DOMException('aborted', 'AbortError'))));
  });

export async function apiGet(path, { signal, key } = {}) {
  const token = key ?? currentKey();
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  let body = null;
  let text = '';
  // A 5xx that is not the API's own error (a gateway or runtime failure before the function
  // answered) is asked once more: every call here is a GET.
  for (let attempt = 0; ; attempt += 1) {
    try {
      res = await fetch(path, { headers, signal, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError({ network: true, message: String((e && e.message) || e) });
    }
    text = await res.text();
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (res.status < 500 || (body && body.error) || attempt >= 1) break;
    await sleep(400, signal);
  }
  if (res.ok) {
    if (body === null) throw new ApiError({ status: res.status, message: 'The API answered with something that is not JSON.' });
    return body;
  }
  const e = (body && body.error) || {};
  const err = new ApiError({
    status: res.status,
    code: e.code || '',
    message: e.message || text.slice(0, 300) || res.statusText,
    parameter: e.parameter || '',
    requestId: e.requestId || res.headers.get('X-Request-Id') || '',
    retryAfter: retryAfterSeconds(res.headers.get('Retry-After')),
  });
  if (res.status === 401 && key === undefined) for (const fn of unauthorizedListeners) fn(err);
  throw err;
}

// Fetches a presigned body URL: no Authorization header, no cookies.
export async function fetchBody(url, { signal } = {}) {
  let res;
  try {
    res = await fetch(url, { credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', signal });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new Error('The body could not be fetched (network failure, or its store refused the request).');
  }
  if (!res.ok) {
    throw new Error(
      res.status === 403
        ? 'The body link has expired (links last 15 minutes): reload the page for a new one.'
        : `The body store answered HTTP ${res.status}.`,
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

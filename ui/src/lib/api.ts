/**
 * The JSON API as the dashboard calls it: relative URLs (the page is served by
 * the same flowlens), the Bearer token when one is set, and errors that say
 * what the server said. A 401 raises Unauthorized, which the app turns into the
 * token prompt.
 */

const TOKEN_KEY = 'flowlens.token';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The server wants a (valid) token. */
export class Unauthorized extends ApiError {}

export function storedToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function storeToken(token: string): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives for this page only
  }
  current = token;
}

let current = '';
/** Called once at start, so the token in storage is used without asking. */
export function loadToken(): void {
  current = storedToken();
}

export function authHeaders(): Record<string, string> {
  return current ? { Authorization: `Bearer ${current}` } : {};
}

export type Params = Record<string, string | number | boolean | undefined | null>;

/** "api/x?a=1": relative to the page, so a reverse proxy may mount flowlens under any prefix. */
export function apiUrl(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `api/${path.replace(/^\/+/, '')}${s ? `?${s}` : ''}`;
}

async function errorText(res: Response): Promise<string> {
  try {
    const body = await res.json();
    return [body.message ?? body.error, body.hint].filter(Boolean).join(' — ') || `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path, params), { headers: { Accept: 'application/json', ...authHeaders() }, signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, `flowlens is not reachable (${(e as Error).message})`);
  }
  if (res.status === 401) throw new Unauthorized(401, await errorText(res));
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return (await res.json()) as T;
}

/**
 * A call that changes something (POST, DELETE): the same token as every read.
 * A read-only token gets 403, which the caller shows as it is ("this call needs
 * an admin token"), so the person knows which token to give.
 */
export async function sendJson<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...authHeaders() },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new ApiError(0, `flowlens is not reachable (${(e as Error).message})`);
  }
  if (res.status === 401) throw new Unauthorized(401, await errorText(res));
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return (await res.json()) as T;
}

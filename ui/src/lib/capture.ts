/**
 * "Capture" buttons: a pcapng of the next seconds of a session, from the
 * running flowlens (GET /api/capture, which needs an admin token when tokens
 * are set), saved as a download with the name the server gives it.
 */
import { ApiError, Unauthorized, apiUrl, authHeaders, type Params } from './api';

/** Seconds a capture button captures. */
export const CAPTURE_SECONDS = 10;

async function message(res: Response): Promise<string> {
  try {
    const body = await res.json();
    return [body.message ?? body.error, body.hint].filter(Boolean).join(' — ') || `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** Captures for `seconds` and hands the file to the browser as a download; resolves when it is saved. */
export async function downloadCapture(filter: Params, seconds = CAPTURE_SECONDS): Promise<void> {
  let res: Response;
  try {
    res = await fetch(apiUrl('capture', { ...filter, duration: `${seconds}s` }), { headers: authHeaders() });
  } catch (e) {
    throw new ApiError(0, `flowlens is not reachable (${(e as Error).message})`);
  }
  if (res.status === 401) throw new Unauthorized(401, await message(res));
  if (!res.ok) throw new ApiError(res.status, await message(res));
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'flowlens-capture.pcapng';
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A refusal or failure from the console's backend, with the rule's code and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly grpc: string,
    readonly code: string,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Told on window when the backend says the session is over (a 401, or the live stream's `session` event). */
export const SESSION_ENDED = 'console:session-ended';

async function handle<T>(r: Response): Promise<T> {
  if (r.ok) return (await r.json()) as T;
  if (r.status === 401) window.dispatchEvent(new Event(SESSION_ENDED));
  const body = (await r.json().catch(() => ({}))) as {
    error?: { grpc?: string; code?: string; field?: string; message?: string };
  };
  const e = body.error ?? {};
  throw new ApiError(
    r.status,
    e.grpc ?? '',
    e.code ?? '',
    e.field ?? '',
    e.message ?? r.statusText,
  );
}

export const get = <T>(
  path: string,
  query: Record<string, string | number | boolean | undefined> = {},
) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return fetch(qs ? `${path}?${qs}` : path, { credentials: 'same-origin' }).then((r) =>
    handle<T>(r),
  );
};

export const post = <T>(path: string, body: unknown = {}) =>
  fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-console-request': '1' },
    body: JSON.stringify(body),
  }).then((r) => handle<T>(r));

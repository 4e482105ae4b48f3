// Thin fetch wrapper for the same-origin Django API (session + CSRF auth).

export type FieldErrors = Record<string, string[]>;

/** Error thrown for any non-2xx response; `message` is fit to show to the user. */
export class ApiError extends Error {
  readonly status: number;
  readonly fieldErrors: FieldErrors;
  readonly body: unknown;

  constructor(message: string, status: number, body: unknown, fieldErrors: FieldErrors = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.fieldErrors = fieldErrors;
  }
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function getCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

let csrfFromEndpoint: string | null = null;

/** Make sure we have a CSRF token: from the `csrftoken` cookie, else ask the server for one. */
export async function ensureCsrfToken(): Promise<string | null> {
  const cookie = getCookie('csrftoken');
  if (cookie) return cookie;
  const data = await request<{ csrfToken?: string }>('GET', '/api/auth/csrf/');
  csrfFromEndpoint = data?.csrfToken ?? null;
  return getCookie('csrftoken') ?? csrfFromEndpoint;
}

function toFieldErrors(body: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) return out;
  for (const [field, value] of Object.entries(body)) {
    if (field === 'detail') continue;
    if (Array.isArray(value)) out[field] = value.map(String);
    else if (typeof value === 'string') out[field] = [value];
  }
  return out;
}

function errorMessage(status: number, statusText: string, body: unknown, fields: FieldErrors): string {
  if (body && typeof body === 'object' && 'detail' in body && typeof body.detail === 'string') {
    return body.detail;
  }
  const parts = Object.entries(fields).map(([field, msgs]) =>
    field === 'non_field_errors' ? msgs.join(' ') : `${field}: ${msgs.join(' ')}`,
  );
  if (parts.length) return parts.join('; ');
  if (Array.isArray(body) && body.length) return body.map(String).join(' ');
  return `Request failed: ${status} ${statusText}`.trim();
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
  // FormData goes as multipart: no Content-Type here, the browser adds it with the boundary.
  const form = typeof FormData !== 'undefined' && body instanceof FormData;
  // A Blob (e.g. a slice of a File) is sent as raw bytes, everything else as JSON.
  const raw = !form && typeof Blob !== 'undefined' && body instanceof Blob;
  if (body !== undefined && !form) headers['Content-Type'] = raw ? 'application/octet-stream' : 'application/json';
  if (UNSAFE_METHODS.has(method)) {
    const token = getCookie('csrftoken') ?? csrfFromEndpoint ?? (await ensureCsrfToken());
    if (token) headers['X-CSRFToken'] = token;
  }

  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : form || raw ? (body as FormData | Blob) : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection.', 0, null);
  }

  const text = res.status === 204 ? '' : await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const fields = toFieldErrors(data);
    throw new ApiError(errorMessage(res.status, res.statusText, data, fields), res.status, data, fields);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  /** multipart/form-data POST (files); the browser sets the Content-Type with its boundary. */
  postForm: <T>(path: string, form: FormData) => request<T>('POST', path, form),
  /** `body` may be a Blob: sent as application/octet-stream. */
  put: <T>(path: string, body?: unknown, headers?: Record<string, string>) => request<T>('PUT', path, body, headers),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
};

/** Human-readable message for anything caught in a `catch` block. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

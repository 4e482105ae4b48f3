import { vi } from 'vitest';

export interface FakeCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** The body as passed to fetch when it is not a JSON string (FormData, Blob). */
  rawBody?: BodyInit | null;
}

type Handler = (call: FakeCall) => { status?: number; body?: unknown } | undefined;

/** Stub global fetch with a router-like handler; returns the list of calls made. */
export function stubFetch(handler: Handler): FakeCall[] {
  const calls: FakeCall[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const call: FakeCall = {
        method: init.method ?? 'GET',
        url: String(input),
        headers: (init.headers ?? {}) as Record<string, string>,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        rawBody: typeof init.body === 'string' ? undefined : init.body,
      };
      calls.push(call);
      const res = handler(call) ?? { status: 404, body: { detail: 'Not found.' } };
      const status = res.status ?? 200;
      const text = status === 204 || res.body === undefined ? null : JSON.stringify(res.body);
      return new Response(text, { status, headers: { 'Content-Type': 'application/json' } });
    }),
  );
  return calls;
}

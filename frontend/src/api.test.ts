import { describe, expect, it } from 'vitest';
import { api, ApiError } from './api';
import { stubFetch } from './test/fakeFetch';

describe('api', () => {
  it('sends X-CSRFToken from the cookie on unsafe methods only', async () => {
    document.cookie = 'csrftoken=tok123; path=/';
    const calls = stubFetch(() => ({ body: { ok: true } }));
    await api.get('/api/jobs/');
    await api.post('/api/jobs/', { kind: 'selftest' });
    expect(calls[0].headers['X-CSRFToken']).toBeUndefined();
    expect(calls[1].headers['X-CSRFToken']).toBe('tok123');
    expect(calls[1].body).toEqual({ kind: 'selftest' });
  });

  it('fetches a CSRF token first when there is no cookie', async () => {
    const calls = stubFetch((c) => (c.url === '/api/auth/csrf/' ? { body: { csrfToken: 'fresh' } } : { status: 204 }));
    await api.post('/api/auth/logout/');
    expect(calls.map((c) => c.url)).toEqual(['/api/auth/csrf/', '/api/auth/logout/']);
    expect(calls[1].headers['X-CSRFToken']).toBe('fresh');
  });

  it('throws the server detail or field errors', async () => {
    stubFetch((c) =>
      c.method === 'GET'
        ? { status: 404, body: { detail: 'Not found.' } }
        : { status: 400, body: { params: ['steps must be positive'] } },
    );
    await expect(api.get('/api/jobs/9/')).rejects.toThrow('Not found.');
    const err = await api.post('/api/jobs/', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toBe('params: steps must be positive');
    expect((err as ApiError).fieldErrors).toEqual({ params: ['steps must be positive'] });
  });

  it('postForm sends FormData as is, without a Content-Type (the browser adds the boundary)', async () => {
    document.cookie = 'csrftoken=tok9; path=/';
    const calls = stubFetch(() => ({ status: 202, body: { ok: true } }));
    const form = new FormData();
    form.append('files', new File(['x'], 'a.jpg', { type: 'image/jpeg' }));
    await expect(api.postForm('/api/galleries/1/images/', form)).resolves.toEqual({ ok: true });
    expect(calls[0].method).toBe('POST');
    expect(calls[0].rawBody).toBe(form);
    expect(calls[0].headers['Content-Type']).toBeUndefined();
    expect(calls[0].headers['X-CSRFToken']).toBe('tok9');
  });
});

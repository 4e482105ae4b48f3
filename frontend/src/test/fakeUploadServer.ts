// In-memory stand-in for the dataset upload API (announce, GET, PUT chunk, complete),
// installed as the global fetch. Keeps the bytes, so tests can check what arrived.
import { createHash } from 'node:crypto';
import { vi } from 'vitest';
import type { DatasetFile } from '../types';

export interface ServerFile {
  meta: DatasetFile;
  bytes: Uint8Array;
}

export interface Put {
  fileId: number;
  offset: number;
  length: number;
}

/** Return a Response to answer instead of the server, 'network' to make fetch reject, or nothing. */
export type Intercept = (req: { method: string; path: string; offset: number | null; n: number }) =>
  | Response
  | 'network'
  | undefined
  | Promise<Response | 'network' | undefined>;

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

export class FakeUploadServer {
  readonly files = new Map<number, ServerFile>();
  readonly puts: Put[] = [];
  readonly requests: string[] = [];
  intercept: Intercept | null = null;
  private nextId = 1;
  /** Requests are handled one at a time in arrival order, as Django's one sync thread does. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(readonly datasetId = 7) {}

  install(): this {
    vi.stubGlobal('fetch', vi.fn((input: RequestInfo | URL, init: RequestInit = {}) => this.handle(String(input), init)));
    return this;
  }

  /** A file the server already has `received` bytes of (as after an earlier session). */
  seed(filename: string, content: Uint8Array, received: number): DatasetFile {
    const meta = this.newMeta(filename, content.length, sha256Hex(content));
    meta.received = received;
    const bytes = new Uint8Array(content.length);
    bytes.set(content.subarray(0, received));
    this.files.set(meta.id, { meta, bytes });
    return meta;
  }

  byName(filename: string): ServerFile | undefined {
    return [...this.files.values()].find((f) => f.meta.filename === filename);
  }

  /** Bytes the server holds for a file, up to `received`. */
  content(filename: string): Uint8Array {
    const f = this.byName(filename)!;
    return f.bytes.subarray(0, f.meta.received);
  }

  private newMeta(filename: string, size: number, sha256: string): DatasetFile {
    const suffix = filename.includes('.') ? filename.split('.').pop()! : filename;
    return {
      id: this.nextId++,
      role: suffix as DatasetFile['role'],
      filename,
      size,
      sha256,
      received: 0,
      complete: false,
      created_at: '2025-01-01T12:00:00Z',
    };
  }

  private handle(url: string, init: RequestInit): Promise<Response> {
    const done = this.turn.then(() => this.serve(url, init));
    this.turn = done.catch(() => undefined);
    return done;
  }

  private async serve(url: string, init: RequestInit): Promise<Response> {
    const method = init.method ?? 'GET';
    const u = new URL(url, 'http://test');
    const offsetParam = u.searchParams.get('offset');
    const offset = offsetParam === null ? null : Number(offsetParam);
    const n = this.requests.push(`${method} ${u.pathname}${u.search}`);
    const intercepted = await this.intercept?.({ method, path: u.pathname, offset, n });
    if (intercepted === 'network') throw new TypeError('Failed to fetch');
    if (intercepted) return intercepted;

    const base = `/api/datasets/${this.datasetId}/files/`;
    if (!u.pathname.startsWith(base)) return json(404, { detail: 'Not found.' });
    const [idPart, action] = u.pathname.slice(base.length).split('/');

    if (method === 'POST' && !idPart) {
      const { filename, size, sha256 } = JSON.parse(String(init.body));
      const existing = this.byName(filename);
      if (existing) {
        if (existing.meta.size === size && existing.meta.sha256 === sha256) return json(200, existing.meta);
        return json(409, { detail: `${filename} is already in this dataset with other contents; delete it first` });
      }
      const meta = this.newMeta(filename, size, sha256);
      this.files.set(meta.id, { meta, bytes: new Uint8Array(size) });
      return json(201, meta);
    }

    const file = this.files.get(Number(idPart));
    if (!file) return json(404, { detail: 'Not found.' });
    const { meta } = file;
    if (method === 'GET' && !action) return json(200, meta);
    if (method === 'PUT' && action === 'chunk') {
      const body = new Uint8Array(await (init.body as Blob).arrayBuffer());
      const at = offset ?? -1;
      this.puts.push({ fileId: meta.id, offset: at, length: body.length });
      if (meta.complete) return json(409, { detail: `${meta.filename} is already complete` });
      if (at > meta.received) {
        return json(409, { detail: `chunk at offset ${at} leaves a gap: resume from offset ${meta.received}`, received: meta.received });
      }
      if (at + body.length > meta.size) return json(400, { detail: 'past the announced size' });
      file.bytes.set(body, at);
      meta.received = Math.max(meta.received, at + body.length);
      return json(200, { ...meta });
    }
    if (method === 'POST' && action === 'complete') {
      if (meta.received !== meta.size) {
        return json(409, { detail: `${meta.filename}: ${meta.received} of ${meta.size} bytes received` });
      }
      const got = sha256Hex(file.bytes);
      if (got !== meta.sha256) {
        meta.received = 0;
        return json(400, { detail: `${meta.filename}: checksum mismatch (got ${got}); upload the file again` });
      }
      meta.complete = true;
      return json(200, { ...meta });
    }
    return json(405, { detail: 'Method not allowed.' });
  }
}

import { beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeUploadServer, sha256Hex } from '../test/fakeUploadServer';
import {
  CHUNK_SIZE_KEY,
  DEFAULT_CHUNK_SIZE,
  RESUME_KEY,
  Uploader,
  chunkSizeSetting,
  findRecord,
  loadRecords,
  saveRecord,
} from './uploader';
import type { HashFn, UploaderOptions, UploadPhase } from './uploader';

const DATASET = 7;

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function fileOf(name: string, content: Uint8Array, lastModified = 1_700_000_000_000): File {
  return new File([content as BlobPart], name, { lastModified });
}

/** Hash with node's crypto (the real hash-wasm path has its own test below). */
const nodeHash: HashFn = async (blob, onProgress) => {
  const digest = sha256Hex(new Uint8Array(await blob.arrayBuffer()));
  onProgress(blob.size);
  return digest;
};

function makeUploader(opts: UploaderOptions = {}) {
  return new Uploader(DATASET, {
    chunkSize: 10,
    hash: vi.fn(nodeHash),
    storage: localStorage,
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxRetries: 3 },
    ...opts,
  });
}

function phaseOf(up: Uploader, name: string): UploadPhase | undefined {
  return up.getSnapshot().entries.find((e) => e.name === name)?.phase;
}

async function until(up: Uploader, name: string, phase: UploadPhase) {
  await vi.waitFor(() => expect(phaseOf(up, name)).toBe(phase), { timeout: 2000, interval: 2 });
}

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

/** Hold the server's answer to the chunk PUT at `offset` until the returned gate is released. */
function holdChunkAt(server: FakeUploadServer, offset: number) {
  const gate = deferred();
  server.intercept = async (req) => {
    if (req.method === 'PUT' && req.offset === offset) await gate.promise;
    return undefined;
  };
  return gate;
}

describe('Uploader', () => {
  let server: FakeUploadServer;

  beforeEach(() => {
    localStorage.clear();
    document.cookie = 'csrftoken=tok; path=/';
    server = new FakeUploadServer(DATASET).install();
  });

  it('hashes, announces, sends chunks in order at the right offsets, then completes', async () => {
    const content = bytes(35);
    const up = makeUploader();
    let recordAtAnnounce: unknown = null;
    server.intercept = ({ method, path }) => {
      if (method === 'POST' && path.endsWith('/files/')) recordAtAnnounce = loadRecords(localStorage)[0];
      return undefined;
    };
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'complete');

    expect(server.puts.map((p) => [p.offset, p.length])).toEqual([
      [0, 10],
      [10, 10],
      [20, 10],
      [30, 5],
    ]);
    expect(server.content('train.rec')).toEqual(content);
    expect(server.byName('train.rec')!.meta.complete).toBe(true);
    expect(server.requests[0]).toBe(`POST /api/datasets/${DATASET}/files/`);
    expect(server.requests.at(-1)).toBe(`POST /api/datasets/${DATASET}/files/1/complete/`);
    // Written after hashing (before the announce), dropped once the file is complete.
    expect(recordAtAnnounce).toMatchObject({
      datasetId: DATASET,
      name: 'train.rec',
      size: 35,
      lastModified: 1_700_000_000_000,
      sha256: sha256Hex(content),
    });
    expect(localStorage.getItem(RESUME_KEY)).toBeNull();
    const entry = up.getSnapshot().entries[0];
    expect(entry).toMatchObject({ received: 35, size: 35, error: null, fileId: 1 });
    expect(up.getSnapshot().files[0]).toMatchObject({ id: 1, complete: true });
    expect(up.busy).toBe(false);
  });

  it('sends the chunk PUT as raw bytes with the CSRF header', async () => {
    const up = makeUploader();
    up.add([fileOf('a.idx', bytes(4))]);
    await until(up, 'a.idx', 'complete');
    const put = vi.mocked(fetch).mock.calls.find(([, init]) => init?.method === 'PUT')!;
    expect(put[0]).toBe(`/api/datasets/${DATASET}/files/1/chunk/?offset=0`);
    expect(put[1]!.headers).toMatchObject({ 'X-CSRFToken': 'tok', 'Content-Type': 'application/octet-stream' });
    expect(put[1]!.body).toBeInstanceOf(Blob);
  });

  it('uploads one file at a time, in the order given', async () => {
    const up = makeUploader();
    up.add([fileOf('train.rec', bytes(25)), fileOf('train.idx', bytes(12, 2))]);
    expect(phaseOf(up, 'train.idx')).toBe('queued');
    await until(up, 'train.idx', 'complete');
    const order = server.puts.map((p) => p.fileId);
    expect(order).toEqual([1, 1, 1, 2, 2]);
    expect(server.content('train.idx')).toEqual(bytes(12, 2));
  });

  it("resumes from the server's received offset using the stored hash (after a reload)", async () => {
    const content = bytes(47);
    const seeded = server.seed('train.rec', content, 23);
    saveRecord(
      { datasetId: DATASET, name: 'train.rec', size: 47, lastModified: 1_700_000_000_000, sha256: seeded.sha256, fileId: seeded.id },
      localStorage,
    );
    const up = makeUploader(); // a new uploader, as after a page reload
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'complete');
    expect(up['hash']).not.toHaveBeenCalled();
    expect(server.puts.map((p) => p.offset)).toEqual([23, 33, 43]);
    expect(server.content('train.rec')).toEqual(content);
  });

  it('hashes again when the stored record does not match (other lastModified), still resuming', async () => {
    const content = bytes(30);
    const seeded = server.seed('train.rec', content, 20);
    saveRecord({ datasetId: DATASET, name: 'train.rec', size: 30, lastModified: 1, sha256: seeded.sha256, fileId: 1 }, localStorage);
    const up = makeUploader();
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'complete');
    expect(up['hash']).toHaveBeenCalledTimes(1);
    expect(server.puts.map((p) => p.offset)).toEqual([20]);
  });

  it('jumps to `received` on a 409 carrying it', async () => {
    const content = bytes(40);
    const up = makeUploader({ window: 1 });
    server.intercept = ({ method, offset }) => {
      if (method === 'PUT' && offset === 20 && !server.puts.some((p) => p.offset === 20)) {
        // The server lost the second chunk (e.g. restored from a snapshot).
        server.puts.push({ fileId: 1, offset: 20, length: 0 });
        server.byName('train.rec')!.meta.received = 10;
        return new Response(JSON.stringify({ detail: 'resume from offset 10', received: 10 }), { status: 409 });
      }
      return undefined;
    };
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'complete');
    expect(server.puts.map((p) => p.offset)).toEqual([0, 10, 20, 10, 20, 30]);
    expect(server.content('train.rec')).toEqual(content);
  });

  it('retries a dropped connection and a 503 with backoff, from the offset the server reports', async () => {
    const content = bytes(30);
    const up = makeUploader({ window: 1 });
    let failures = 0;
    server.intercept = ({ method, offset }) => {
      if (method === 'PUT' && offset === 10 && failures < 2) {
        failures++;
        return failures === 1 ? 'network' : new Response('<h1>Bad gateway</h1>', { status: 503 });
      }
      return undefined;
    };
    const phases = new Set<string>();
    up.subscribe(() => phases.add(String(phaseOf(up, 'train.rec'))));
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'complete');
    expect(phases.has('retrying')).toBe(true);
    const tail = server.requests.filter((r) => !r.startsWith('POST'));
    expect(tail).toEqual([
      'PUT /api/datasets/7/files/1/chunk/?offset=0',
      'PUT /api/datasets/7/files/1/chunk/?offset=10',
      'GET /api/datasets/7/files/1/',
      'PUT /api/datasets/7/files/1/chunk/?offset=10',
      'GET /api/datasets/7/files/1/',
      'PUT /api/datasets/7/files/1/chunk/?offset=10',
      'PUT /api/datasets/7/files/1/chunk/?offset=20',
    ]);
    expect(server.content('train.rec')).toEqual(content);
  });

  it('gives up after maxRetries and lets the user retry', async () => {
    const up = makeUploader({ retry: { baseDelayMs: 1, maxDelayMs: 1, maxRetries: 2 } });
    let down = true;
    server.intercept = ({ method }) => (down && method === 'PUT' ? 'network' : undefined);
    up.add([fileOf('train.rec', bytes(15))]);
    await until(up, 'train.rec', 'error');
    const entry = up.getSnapshot().entries[0];
    expect(entry.error).toMatch(/Cannot reach the server.*gave up after 2 retries/);
    expect(entry.retryable).toBe(true);
    down = false;
    up.resume('train.rec');
    await until(up, 'train.rec', 'complete');
    expect(server.content('train.rec')).toEqual(bytes(15));
  });

  it('pause stops after the chunk in flight; resume continues from there', async () => {
    const content = bytes(50);
    const up = makeUploader({ window: 1 });
    const gate = holdChunkAt(server, 10);
    up.add([fileOf('train.rec', content)]);
    await vi.waitFor(() => expect(server.requests).toContain('PUT /api/datasets/7/files/1/chunk/?offset=10'));
    up.pause('train.rec');
    expect(up.getSnapshot().entries[0].pausing).toBe(true);
    gate.release();
    await until(up, 'train.rec', 'paused');
    expect(server.puts.map((p) => p.offset)).toEqual([0, 10]);
    expect(up.getSnapshot().entries[0]).toMatchObject({ received: 20, pausing: false });
    expect(up.busy).toBe(false);
    // The hash survives the pause (and is in localStorage for a reload).
    expect(findRecord(DATASET, fileOf('train.rec', content), localStorage)?.fileId).toBe(1);

    up.resume('train.rec');
    await until(up, 'train.rec', 'complete');
    expect(server.puts.map((p) => p.offset)).toEqual([0, 10, 20, 30, 40]);
    expect(up['hash']).toHaveBeenCalledTimes(1);
    expect(server.content('train.rec')).toEqual(content);
  });

  it('pausing a queued file takes it out of the queue', async () => {
    const up = makeUploader();
    up.add([fileOf('train.rec', bytes(20)), fileOf('lfw.bin', bytes(5))]);
    up.pause('lfw.bin');
    expect(phaseOf(up, 'lfw.bin')).toBe('paused');
    await until(up, 'train.rec', 'complete');
    expect(phaseOf(up, 'lfw.bin')).toBe('paused');
    up.resume('lfw.bin');
    await until(up, 'lfw.bin', 'complete');
  });

  it('shows the server detail next to the file and goes on with the next', async () => {
    const up = makeUploader();
    server.intercept = ({ method, n }) =>
      method === 'POST' && n === 1
        ? new Response(JSON.stringify({ detail: 'train.rec would exceed your storage quota of 10 bytes' }), { status: 413 })
        : undefined;
    up.add([fileOf('train.rec', bytes(20)), fileOf('train.idx', bytes(5)), fileOf('notes.txt', bytes(3))]);
    await until(up, 'train.idx', 'complete');
    const [rec, , txt] = up.getSnapshot().entries;
    expect(rec).toMatchObject({ phase: 'error', error: 'train.rec would exceed your storage quota of 10 bytes' });
    expect(txt).toMatchObject({ phase: 'error', retryable: false });
    expect(txt.error).toMatch(/not a dataset file/);
    expect(server.requests.filter((r) => r.startsWith('POST')).length).toBe(3); // no retry of the 413
    up.dismiss('train.rec'); // retryable: stays
    up.dismiss('notes.txt');
    expect(up.getSnapshot().entries.map((e) => e.name)).toEqual(['train.rec', 'train.idx']);
  });

  it('reports a checksum mismatch; Retry uploads again from 0', async () => {
    const content = bytes(20);
    const up = makeUploader();
    let corrupt = true;
    server.intercept = ({ method, offset }) => {
      if (method === 'PUT' && offset === 10 && corrupt) {
        corrupt = false;
        const f = server.byName('train.rec')!;
        f.bytes.set(bytes(10, 99), 10); // bytes flipped on the way
        f.meta.received = 20;
        return new Response(JSON.stringify({ ...f.meta }), { status: 200 });
      }
      return undefined;
    };
    up.add([fileOf('train.rec', content)]);
    await until(up, 'train.rec', 'error');
    expect(up.getSnapshot().entries[0].error).toMatch(/checksum mismatch.*upload the file again/);
    up.resume('train.rec');
    await until(up, 'train.rec', 'complete');
    expect(server.puts.map((p) => p.offset)).toEqual([0, 0, 10]);
    expect(server.content('train.rec')).toEqual(content);
  });

  it('a file the server already has complete is done at once', async () => {
    const content = bytes(12);
    const seeded = server.seed('train.lst', content, 12);
    seeded.complete = true;
    const up = makeUploader();
    up.add([fileOf('train.lst', content)]);
    await until(up, 'train.lst', 'complete');
    expect(server.puts).toEqual([]);
  });

  it('reports speed and time left while uploading', async () => {
    let t = 0;
    const up = makeUploader({ window: 1, now: () => t });
    const gate = deferred();
    server.intercept = async ({ method, offset }) => {
      t += 1000; // each request takes a second
      if (method === 'PUT' && offset === 30) await gate.promise;
      return undefined;
    };
    up.add([fileOf('train.rec', bytes(50))]);
    await vi.waitFor(() => expect(up.getSnapshot().entries[0].received).toBe(30));
    const entry = up.getSnapshot().entries[0];
    expect(entry.speed).toBeCloseTo(10, 5); // 30 bytes in 3 s
    expect(entry.eta).toBeCloseTo(2, 5);
    gate.release();
    await until(up, 'train.rec', 'complete');
  });

  describe('with two chunks under way (the default)', () => {
    it('sends the next chunk before the server has answered the one before', async () => {
      const up = makeUploader();
      expect(up.window).toBe(2);
      const gate = holdChunkAt(server, 0);
      up.add([fileOf('train.rec', bytes(35))]);
      const putCalls = () => vi.mocked(fetch).mock.calls.filter(([, init]) => init?.method === 'PUT').map(([url]) => String(url));
      await vi.waitFor(() => expect(putCalls()).toHaveLength(2));
      expect(putCalls()).toEqual([`/api/datasets/${DATASET}/files/1/chunk/?offset=0`, `/api/datasets/${DATASET}/files/1/chunk/?offset=10`]);
      gate.release();
      await until(up, 'train.rec', 'complete');
      expect(server.puts.map((p) => p.offset)).toEqual([0, 10, 20, 30]);
      expect(server.content('train.rec')).toEqual(bytes(35));
    });

    it('a chunk that overtakes the one before is sent again after it', async () => {
      const up = makeUploader();
      let first = true;
      server.intercept = ({ method, offset }) => {
        if (method === 'PUT' && offset === 10 && first) {
          first = false; // as if chunk 10 reached the server before chunk 0
          server.puts.push({ fileId: 1, offset: 10, length: 0 });
          return new Response(JSON.stringify({ detail: 'gap', received: 0 }), { status: 409 });
        }
        return undefined;
      };
      up.add([fileOf('train.rec', bytes(30))]);
      await until(up, 'train.rec', 'complete');
      expect(server.content('train.rec')).toEqual(bytes(30));
      const offsets = server.puts.map((p) => p.offset);
      expect(offsets.slice(0, 2)).toEqual([0, 10]);
      expect(offsets.filter((o) => o === 10)).toHaveLength(2);
      expect(up.getSnapshot().entries[0].error).toBeNull();
    });

    it('recovers from lost bytes and a dropped connection with chunks under way', async () => {
      const content = bytes(60);
      const up = makeUploader();
      let lost = false;
      let dropped = false;
      server.intercept = ({ method, offset }) => {
        if (method === 'PUT' && offset === 20 && !lost) {
          lost = true;
          server.puts.push({ fileId: 1, offset: 20, length: 0 });
          server.byName('train.rec')!.meta.received = 10; // the server lost the second chunk
          return new Response(JSON.stringify({ detail: 'resume from offset 10', received: 10 }), { status: 409 });
        }
        if (method === 'PUT' && offset === 40 && !dropped) {
          dropped = true;
          return 'network';
        }
        return undefined;
      };
      up.add([fileOf('train.rec', content)]);
      await until(up, 'train.rec', 'complete');
      expect(server.content('train.rec')).toEqual(content);
      expect(server.requests).toContain(`GET /api/datasets/${DATASET}/files/1/`);
      expect(server.byName('train.rec')!.meta.complete).toBe(true);
    });

    it('pause lets the chunks under way land, then resume goes on from the server', async () => {
      const content = bytes(60);
      const up = makeUploader();
      const gate = holdChunkAt(server, 10);
      up.add([fileOf('train.rec', content)]);
      await vi.waitFor(() => expect(server.requests).toContain('PUT /api/datasets/7/files/1/chunk/?offset=10'));
      up.pause('train.rec');
      gate.release();
      await until(up, 'train.rec', 'paused');
      const sent = server.puts.length;
      expect(sent).toBeGreaterThanOrEqual(2);
      expect(sent).toBeLessThanOrEqual(3); // the chunks under way, nothing after the pause
      expect(up.getSnapshot().entries[0].received).toBe(server.byName('train.rec')!.meta.received);
      up.resume('train.rec');
      await until(up, 'train.rec', 'complete');
      expect(server.content('train.rec')).toEqual(content);
      expect(server.puts.map((p) => p.offset)).toEqual([0, 10, 20, 30, 40, 50].slice(0, server.puts.length));
    });
  });
});

describe('settings', () => {
  it('reads the chunk size override from localStorage', () => {
    localStorage.removeItem(CHUNK_SIZE_KEY);
    expect(chunkSizeSetting(localStorage)).toBe(DEFAULT_CHUNK_SIZE);
    localStorage.setItem(CHUNK_SIZE_KEY, '32768');
    expect(chunkSizeSetting(localStorage)).toBe(32768);
    expect(new Uploader(1, { storage: localStorage }).chunkSize).toBe(32768);
    localStorage.setItem(CHUNK_SIZE_KEY, 'lots');
    expect(chunkSizeSetting(localStorage)).toBe(DEFAULT_CHUNK_SIZE);
    localStorage.removeItem(CHUNK_SIZE_KEY);
  });
});

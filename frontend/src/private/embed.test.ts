import { describe, expect, it } from 'vitest';

import { MODEL_CACHE, ModelDigestError, checkDigest, l2NormaliseRows, modelBytes, rgbFromRgba, sha256Hex } from './embed';

const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const bytes = (s: string) => new TextEncoder().encode(s);
/** What modelBytes returned, as plain values (jsdom's and Node's Uint8Array differ). */
const loaded = async (p: Promise<{ bytes: Uint8Array; fromCache: boolean }>) => {
  const { bytes: got, fromCache } = await p;
  return { text: new TextDecoder().decode(got), fromCache };
};

/** A Cache Storage with one cache, enough for modelBytes. */
function fakeCaches() {
  const entries = new Map<string, Uint8Array>();
  const cache = {
    match: async (key: string) => (entries.has(key) ? new Response(entries.get(key)! as BodyInit) : undefined),
    put: async (key: string, response: Response) => void entries.set(key, new Uint8Array(await response.arrayBuffer())),
    delete: async (key: string) => entries.delete(key),
  };
  const opened: string[] = [];
  const caches = { open: async (name: string) => (opened.push(name), cache) } as unknown as CacheStorage;
  return { caches, entries, opened };
}

describe('the browser embedder pieces', () => {
  it('digests like hashlib.sha256 and refuses other bytes', async () => {
    expect(await sha256Hex(bytes('abc'))).toBe(ABC_SHA256);
    expect((await checkDigest(bytes('abc'), ABC_SHA256.toUpperCase())).length).toBe(3);
    await expect(checkDigest(bytes('abd'), ABC_SHA256)).rejects.toThrow(ModelDigestError);
  });

  it('normalises rows to unit length, zero rows stay zero', () => {
    const out = l2NormaliseRows(new Float32Array([3, 4, 0, 0, 0, 0]), 3);
    expect(Array.from(out.subarray(0, 3))).toEqual([3 / 5, 4 / 5, 0].map(Math.fround));
    expect(Array.from(out.subarray(3))).toEqual([0, 0, 0]);
  });

  it('drops the alpha channel of canvas pixels', () => {
    expect(Array.from(rgbFromRgba(new Uint8ClampedArray([1, 2, 3, 255, 4, 5, 6, 0])))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => rgbFromRgba(new Uint8Array(5))).toThrow(/4 bytes per pixel/);
  });

  it('downloads a model once, checks it, and serves the cached copy by digest', async () => {
    const { caches, entries, opened } = fakeCaches();
    let downloads = 0;
    const source = { caches, fetch: async () => (downloads++, new Response(bytes('abc') as BodyInit)) };
    const entry = { sha256: ABC_SHA256, url: '/api/models/1/onnx/' };
    expect(await loaded(modelBytes(entry, source))).toEqual({ text: 'abc', fromCache: false });
    expect(await loaded(modelBytes(entry, source))).toEqual({ text: 'abc', fromCache: true });
    expect(downloads).toBe(1);
    expect(opened[0]).toBe(MODEL_CACHE);
    // A damaged cached copy is dropped and downloaded again.
    entries.set([...entries.keys()][0], bytes('abd'));
    expect(await loaded(modelBytes(entry, source))).toEqual({ text: 'abc', fromCache: false });
    expect(downloads).toBe(2);
  });

  it('refuses a download whose digest is not the listed one, and caches nothing', async () => {
    const { caches, entries } = fakeCaches();
    const source = { caches, fetch: async () => new Response(bytes('evil') as BodyInit) };
    await expect(modelBytes({ sha256: ABC_SHA256, url: '/m' }, source)).rejects.toThrow(/expected ba7816bf8f01/);
    expect(entries.size).toBe(0);
    const failing = { caches: null, fetch: async () => new Response('no', { status: 404 }) };
    await expect(modelBytes({ sha256: ABC_SHA256, url: '/m' }, failing)).rejects.toThrow(/404/);
  });
});

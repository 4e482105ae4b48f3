import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../test/fakeUploadServer';
import { sha256OfBlob } from './hashing';

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('hashing', () => {
  it('hash-wasm SHA-256 of a blob matches node crypto', async () => {
    const content = bytes(100_003, 5);
    const progress: number[] = [];
    const digest = await sha256OfBlob(new Blob([content as BlobPart]), (n) => progress.push(n), () => false);
    expect(digest).toBe(sha256Hex(content));
    expect(progress.at(-1)).toBe(100_003);
    expect(await sha256OfBlob(new Blob([content as BlobPart]), () => {}, () => true)).toBeNull();
  });
});

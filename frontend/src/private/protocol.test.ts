import { describe, expect, it } from 'vitest';
import { GalleryChangedError, rankAnswer, rankScores, scoreSetHeader, toScores } from './protocol';
import { pack } from './wire';

describe('rankScores (protocol.rank)', () => {
  const labels = ['ann', 'bob', 'ann', 'cy', 'dee'];
  const scores = [0.1, 0.7, 0.9, 0.3, 0.7];

  it('keeps the best template per identity, best first, ties in first-seen order', () => {
    expect(rankScores(scores, labels, 5, null)).toEqual([
      { identity: 'ann', score: 0.9 },
      { identity: 'bob', score: 0.7 },
      { identity: 'dee', score: 0.7 },
      { identity: 'cy', score: 0.3 },
    ]);
  });

  it('cuts to top k first, then drops what is under the threshold (open-set: [] is no match)', () => {
    expect(rankScores(scores, labels, 2, 0.8)).toEqual([{ identity: 'ann', score: 0.9 }]);
    expect(rankScores(scores, labels, 3, 0.95)).toEqual([]);
    expect(rankScores(scores, labels, 3, 0.7).map((m) => m.identity)).toEqual(['ann', 'bob', 'dee']);
  });

  it('rounds to 4 decimals and refuses a length mismatch', () => {
    expect(rankScores([0.123456], ['x'], 1, null)).toEqual([{ identity: 'x', score: 0.1235 }]);
    expect(() => rankScores([1, 2], ['x'], 1, null)).toThrow('2 scores for 1 labels');
  });
});

describe('toScores (gallery.to_scores)', () => {
  it('passes cosine dots through and maps euclidean with the squared norms', () => {
    expect(Array.from(toScores([0.5], 'cosine', 1))).toEqual([0.5]);
    expect(Array.from(toScores([0.5], 'euclidean', 1, [1]))).toEqual([0.5]);
    expect(Array.from(toScores([0.5], 'euclidean', 1, [0.5]))).toEqual([0.75]);
    expect(() => toScores([0.5], 'euclidean', 1)).toThrow('squared norms');
    expect(() => toScores([0.5], 'manhattan', 1)).toThrow('unknown score rule');
  });
});

describe('rankAnswer', () => {
  const labels = { version: 3, entries: 2, labels: ['a', 'b'], score: 'cosine' };
  const opts = { rule: 'cosine', queryNorm2: 1, topK: 5, threshold: 0.2 };

  it('ranks when the labels are of the version that was scored', () => {
    expect(rankAnswer([0.1, 0.6], { version: 3, entries: 2 }, labels, opts)).toEqual([{ identity: 'b', score: 0.6 }]);
  });

  it('refuses labels of another gallery version or size', () => {
    expect(() => rankAnswer([0.1, 0.6], { version: 4, entries: 2 }, labels, opts)).toThrow(GalleryChangedError);
    expect(() => rankAnswer([0.1], { version: 3, entries: 1 }, labels, opts)).toThrow(GalleryChangedError);
  });

  it('refuses a gallery scored by another rule than its private-search block says', () => {
    expect(() => rankAnswer([0.1, 0.6], { version: 3, entries: 2 }, { ...labels, score: 'euclidean' }, opts)).toThrow('euclidean');
  });
});

describe('scoreSetHeader', () => {
  it('reads version and entries of a he_wire score set', async () => {
    const data = await pack('score_set', { gallery: 1, version: 7, entries: 42, key_id: 'k', shards: [[0, 1]] }, [new Uint8Array([1, 2])]);
    expect(scoreSetHeader(data)).toEqual({ version: 7, entries: 42, key_id: 'k' });
  });

  it('refuses anything else', async () => {
    expect(() => scoreSetHeader(new TextEncoder().encode('{"detail": "nope"}'))).toThrow('score set');
    const query = await pack('query', { key_id: 'k', dim: 4 }, []);
    expect(() => scoreSetHeader(query)).toThrow('score set');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { boundWording, clearLimits, fetchLimits, parseBounded, TRAINING_LIMITS_URL } from './limits';
import type { Bound } from './limits';
import { stubFetch } from './test/fakeFetch';
import { limitsAnswer, TRAINING_LIMITS } from './test/limits';

const bound = (over: Partial<Bound>): Bound => ({
  min: 0, max: null, integer: false, min_exclusive: false, max_exclusive: false, at_most: null, ...over,
});

describe('limits', () => {
  afterEach(() => clearLimits());

  it('words a bound from its ends', () => {
    expect(boundWording(bound({ integer: true, min: 1, max: 1000 }))).toBe('a whole number from 1 to 1000');
    expect(boundWording(bound({ integer: true, max: 2 ** 63 }))).toBe('a whole number, 0 or more');
    expect(boundWording(bound({ min_exclusive: true }))).toBe('a number above 0');
    expect(boundWording(bound({}))).toBe('a number, 0 or more');
    expect(boundWording(bound({ max: 10, min_exclusive: true }))).toBe('a number above 0, at most 10');
    expect(boundWording(bound({ max: 1, max_exclusive: true }))).toBe('a number from 0 to below 1');
    expect(boundWording(bound({ max: 1, min_exclusive: true, max_exclusive: true }))).toBe(
      'a number between 0 and 1 (exclusive)',
    );
    expect(boundWording(bound({ max: 0.5 }))).toBe('a number from 0 to 0.5');
  });

  it('checks a number against a bound, its ends included or not', () => {
    const momentum = TRAINING_LIMITS.momentum;
    expect(parseBounded(momentum, '0')).toBe(0);
    expect(parseBounded(momentum, '1')).toBe('Must be a number from 0 to below 1.');
    expect(parseBounded(TRAINING_LIMITS.epochs, '2.5')).toBe('Must be a whole number from 1 to 1000.');
    expect(parseBounded(TRAINING_LIMITS.epochs, ' ')).toBe('Required.');
    expect(parseBounded(undefined, '1e9')).toBe(1e9);
    expect(parseBounded(undefined, 'x')).toBe('Must be a number.');
  });

  it('asks the server once per page load', async () => {
    const calls = stubFetch((c) => limitsAnswer(c.url));
    const [a, b] = await Promise.all([fetchLimits(TRAINING_LIMITS_URL), fetchLimits(TRAINING_LIMITS_URL)]);
    expect(a).toEqual(TRAINING_LIMITS);
    expect(b).toBe(a);
    expect(await fetchLimits(TRAINING_LIMITS_URL)).toBe(a);
    expect(calls).toHaveLength(1);
  });

  it('asks again after a failure', async () => {
    stubFetch(() => ({ status: 500, body: { detail: 'down' } }));
    await expect(fetchLimits(TRAINING_LIMITS_URL)).rejects.toThrow();
    const calls = stubFetch((c) => limitsAnswer(c.url));
    expect(await fetchLimits(TRAINING_LIMITS_URL)).toEqual(TRAINING_LIMITS);
    expect(calls).toHaveLength(1);
  });
});

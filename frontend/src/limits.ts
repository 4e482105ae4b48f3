// The numeric ranges a run form checks, fetched from the server (`GET /api/training/limits/`,
// `/api/federated/limits/`: the engines' FIELD_BOUNDS, the tables validate() reads), so the
// forms hold no copy of them. Until they arrive a field only has to be a number; the server's
// 400 then names the field as for any other error.
import { useEffect, useState } from 'react';
import { api } from './api';
import type { components } from './generated/apiSchema';

export type Bound = components['schemas']['Bound'];
/** The ranges by field name; null while loading (or when the request failed). */
export type Limits = Record<string, Bound>;

export const TRAINING_LIMITS_URL = '/api/training/limits/';
export const FEDERATED_LIMITS_URL = '/api/federated/limits/';

// One request per URL per page load; a failed one is asked again on the next mount.
const loaded = new Map<string, Promise<Limits>>();

export function fetchLimits(url: string): Promise<Limits> {
  let pending = loaded.get(url);
  if (!pending) {
    pending = api.get<components['schemas']['Limits']>(url).then((answer) => answer.bounds);
    pending.catch(() => loaded.delete(url));
    loaded.set(url, pending);
  }
  return pending;
}

/** Forget fetched limits (tests serve different ones). */
export function clearLimits(): void {
  loaded.clear();
}

/** The limits at `url`, or null until they have arrived. */
export function useLimits(url: string): Limits | null {
  const [limits, setLimits] = useState<Limits | null>(null);
  useEffect(() => {
    let live = true;
    fetchLimits(url).then(
      (l) => live && setLimits(l),
      () => undefined, // no limits: the server's 400 names a bad field
    );
    return () => {
      live = false;
    };
  }, [url]);
  return limits;
}

const show = (x: number) => String(x);
// A limit beyond 2^53 is not exact here (it only guards the server's integers): the server checks it.
const hasMax = (b: Bound): b is Bound & { max: number } =>
  b.max !== null && b.max !== undefined && b.max <= Number.MAX_SAFE_INTEGER;

/** A bound in words: "a whole number from 1 to 1000", "a number above 0, at most 10" … */
export function boundWording(b: Bound): string {
  const low = show(b.min);
  if (b.integer) return hasMax(b) ? `a whole number from ${low} to ${show(b.max)}` : `a whole number, ${low} or more`;
  if (!hasMax(b)) return b.min_exclusive ? `a number above ${low}` : `a number, ${low} or more`;
  const high = show(b.max);
  if (b.min_exclusive && b.max_exclusive) return `a number between ${low} and ${high} (exclusive)`;
  if (b.min_exclusive) return `a number above ${low}, at most ${high}`;
  if (b.max_exclusive) return `a number from ${low} to below ${high}`;
  return `a number from ${low} to ${high}`;
}

/** The number in `raw` checked against `bound` (any finite number without one), or an error message. */
export function parseBounded(bound: Bound | undefined, raw: string): number | string {
  const text = raw.trim();
  if (!text) return 'Required.';
  const value = Number(text);
  if (!bound) return Number.isFinite(value) ? value : 'Must be a number.';
  const ok =
    Number.isFinite(value) &&
    (!bound.integer || Number.isInteger(value)) &&
    (bound.min_exclusive ? value > bound.min : value >= bound.min) &&
    (!hasMax(bound) || (bound.max_exclusive ? value < bound.max : value <= bound.max));
  return ok ? value : `Must be ${boundWording(bound)}.`;
}

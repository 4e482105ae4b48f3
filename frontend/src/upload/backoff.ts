// When to retry and how long to wait: transient failures (no answer, 5xx, 408, 429) are
// retried with a doubling delay, a pause cuts the wait short.
import { ApiError } from '../api';

export interface RetryPolicy {
  /** Retries per file in a row before giving up (the user can then press Retry). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 8, baseDelayMs: 1000, maxDelayMs: 30_000 };

/** Network failures and server-side trouble: worth retrying. */
export function isTransient(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 408 || err.status === 429);
}

/** Milliseconds before the `failures`-th retry in a row (1 for the first). */
export function retryDelayMs(policy: RetryPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1));
}

/** Wait `ms`; `setWake` gets a function that ends the wait early (and null once it is over). */
export function wakeableSleep(ms: number, setWake: (wake: (() => void) | null) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      setWake(null);
      resolve();
    }, ms);
    setWake(() => {
      clearTimeout(timer);
      setWake(null);
      resolve();
    });
  });
}

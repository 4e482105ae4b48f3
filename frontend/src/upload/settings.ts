// Upload settings: bytes per chunk (with its localStorage override), chunks under way, and
// the browser storage that settings and resume records live in.

export const DEFAULT_CHUNK_SIZE = 8 << 20;
/** Chunks of a file under way at once (bench/upload_throughput.py --in_flight). */
export const DEFAULT_WINDOW = 2;
/** The server refuses bodies over 64 MiB. */
export const MAX_CHUNK_SIZE = 64 << 20;
/** Test hook: bytes per chunk (the e2e uses tiny chunks). */
export const CHUNK_SIZE_KEY = 'privface.chunkSize';

/** localStorage, or null where there is none or it is disabled. */
export function defaultStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

/** Chunk size: `localStorage['privface.chunkSize']` (bytes) if set, else 8 MiB; at most 64 MiB. */
export function chunkSizeSetting(storage: Storage | null = defaultStorage()): number {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(CHUNK_SIZE_KEY) ?? null;
  } catch {
    raw = null;
  }
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_CHUNK_SIZE) : DEFAULT_CHUNK_SIZE;
}

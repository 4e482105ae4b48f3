// Resume records in localStorage: after a page reload the server still knows how many bytes
// of a file it has, and the record keeps the file's SHA-256, so dropping the same file again
// resumes without hashing it again.
import { defaultStorage } from './settings';

/** localStorage key of the resume records. */
export const RESUME_KEY = 'privface.uploads';
const MAX_RECORDS = 200;

/** What lets a file dropped again after a reload resume without hashing it again. */
export interface ResumeRecord {
  datasetId: number;
  name: string;
  size: number;
  lastModified: number;
  sha256: string;
  fileId: number | null;
}

export function loadRecords(storage: Storage | null = defaultStorage()): ResumeRecord[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(RESUME_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as ResumeRecord[]) : [];
  } catch {
    return [];
  }
}

function storeRecords(records: ResumeRecord[], storage: Storage | null): void {
  try {
    if (records.length) storage?.setItem(RESUME_KEY, JSON.stringify(records.slice(-MAX_RECORDS)));
    else storage?.removeItem(RESUME_KEY);
  } catch {
    // Quota or disabled storage: resuming will hash the file again, nothing worse.
  }
}

/** The record for this dataset and file, if name, size and lastModified all match. */
export function findRecord(
  datasetId: number,
  file: { name: string; size: number; lastModified: number },
  storage: Storage | null = defaultStorage(),
): ResumeRecord | null {
  return (
    loadRecords(storage).find(
      (r) =>
        r.datasetId === datasetId &&
        r.name === file.name &&
        r.size === file.size &&
        r.lastModified === file.lastModified &&
        /^[0-9a-f]{64}$/.test(r.sha256),
    ) ?? null
  );
}

export function saveRecord(record: ResumeRecord, storage: Storage | null = defaultStorage()): void {
  const others = loadRecords(storage).filter((r) => !(r.datasetId === record.datasetId && r.name === record.name));
  storeRecords([...others, record], storage);
}

/** Drop the records of a dataset (all, or one file's). */
export function forgetRecords(datasetId: number, name?: string, storage: Storage | null = defaultStorage()): void {
  const kept = loadRecords(storage).filter((r) => !(r.datasetId === datasetId && (name === undefined || r.name === name)));
  storeRecords(kept, storage);
}

// The file names a dataset takes (the server checks them too; this spares a useless upload).

export const ACCEPTED_SUFFIXES = ['.rec', '.idx', '.lst', '.bin'] as const;
/** For the file input's `accept`. */
export const ACCEPT_ATTRIBUTE = [...ACCEPTED_SUFFIXES, 'property'].join(',');

/** True for the file names the server takes (.rec/.idx/.lst/.bin and `property`). */
export function isDatasetFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return name === 'property' || ACCEPTED_SUFFIXES.some((s) => lower.endsWith(s) && lower.length > s.length);
}

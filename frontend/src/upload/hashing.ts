// SHA-256 of whole files (incremental, for the server's final check) and of single chunks
// (so the server can refuse bytes damaged on the way). hash-wasm loads on first use.

const HASH_SLICE = 8 << 20;

/** SHA-256 of a blob as 64 lowercase hex digits, or null when `shouldStop` said so. */
export type HashFn = (blob: Blob, onProgress: (bytesHashed: number) => void, shouldStop: () => boolean) => Promise<string | null>;

/** Incremental SHA-256 (hash-wasm): reads the file in 8 MiB slices, never whole. */
export const sha256OfBlob: HashFn = async (blob, onProgress, shouldStop) => {
  const { createSHA256 } = await import('hash-wasm');
  const hasher = await createSHA256();
  hasher.init();
  for (let pos = 0; pos < blob.size; ) {
    if (shouldStop()) return null;
    const end = Math.min(blob.size, pos + HASH_SLICE);
    hasher.update(new Uint8Array(await readSlice(blob.slice(pos, end))));
    pos = end;
    onProgress(pos);
  }
  return hasher.digest('hex');
};

export async function chunkSha256(bytes: Uint8Array): Promise<string> {
  const { sha256 } = await import('hash-wasm');
  return sha256(bytes);
}

/** The bytes of a blob (FileReader where Blob.arrayBuffer is missing). */
export function readSlice(blob: Blob): Promise<ArrayBuffer> {
  if (typeof blob.arrayBuffer === 'function') return blob.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

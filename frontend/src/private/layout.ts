// The server's slot layout (inference/engine/he_layout.py), the parts the key holder needs,
// and the one step node-seal lacks: reading the imaginary half of complex score slots.

export interface HEParams {
  poly_degree: number;
  coeff_bits: number[];
  query_scale_bits: number;
  gallery_scale_bits: number;
}

/** A gallery's `he_profile` from the API. */
export interface SearchProfile {
  params: HEParams;
  dim: number;
  giant_step: number;
}

export const paddedDim = (dim: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, dim)));
export const slotCount = (p: SearchProfile): number => p.params.poly_degree / 2;
/** Gallery entries per score ciphertext: the real and the imaginary part of every slot. */
export const blockSize = (p: SearchProfile): number => 2 * slotCount(p);
export const blockCount = (entries: number, p: SearchProfile): number => Math.max(1, Math.ceil(entries / blockSize(p)));

/** Galois-key steps the server rotates by: 1 (baby steps) and giant_step (as he_layout). */
export function rotationSteps(p: SearchProfile): number[] {
  const steps = new Set<number>();
  if (p.giant_step > 1) steps.add(1);
  if (paddedDim(p.dim) / p.giant_step > 1) steps.add(p.giant_step);
  return [...steps].sort((a, b) => a - b);
}

/** The probe L2-normalised, zero-padded to the padded dimension and tiled over every slot. */
export function replicateQuery(embedding: ArrayLike<number>, p: SearchProfile): Float64Array {
  if (embedding.length !== p.dim) throw new Error(`query has dim ${embedding.length}, the profile wants ${p.dim}`);
  let norm = 0;
  for (let i = 0; i < embedding.length; i++) norm += embedding[i] * embedding[i];
  norm = Math.sqrt(norm);
  if (!Number.isFinite(norm) || norm === 0) throw new Error('the query must be finite and non-zero');
  const dimPad = paddedDim(p.dim);
  const out = new Float64Array(slotCount(p));
  for (let s = 0; s < out.length; s += dimPad) {
    for (let i = 0; i < p.dim; i++) out[s + i] = embedding[i] / norm;
  }
  return out;
}

// SEAL's uncompressed Ciphertext: header 16 | parms_id 32 | ntt u8 | size, degree, moduli u64
// | scale f64 | correction u64 | DynArray header 16 | count u64 | data (poly-major, then modulus).
const CT_DATA_OFFSET = 16 + 32 + 1 + 5 * 8 + 16 + 8;

/**
 * An uncompressed SEAL ciphertext in coefficient (non-NTT) form multiplied by X^(N/2). In
 * CKKS that multiplies slot j by X^(N/2) evaluated at its root zeta^(3^j), i.e. by
 * i^(3^j): i for even j, -i for odd j (SEAL orders slots by powers of 3). So the real
 * slots of the result are the imaginary slots of the input, negated at even j (unpackBlock).
 * `moduli` are the ciphertext's coefficient moduli.
 */
export function timesXHalf(ct: Uint8Array, moduli: bigint[]): Uint8Array {
  const view = new DataView(ct.buffer, ct.byteOffset, ct.byteLength);
  if (ct.length < CT_DATA_OFFSET || view.getUint16(0, true) !== 0xa15e || ct[5] !== 0) {
    throw new Error('not an uncompressed SEAL ciphertext');
  }
  if (ct[48] !== 0) throw new Error('the ciphertext must be in coefficient form (transform it from NTT first)');
  const size = Number(view.getBigUint64(49, true));
  const degree = Number(view.getBigUint64(57, true));
  const nModuli = Number(view.getBigUint64(65, true));
  const count = Number(view.getBigUint64(CT_DATA_OFFSET - 8, true));
  if (nModuli !== moduli.length || count !== size * degree * nModuli || ct.length < CT_DATA_OFFSET + 8 * count) {
    throw new Error('ciphertext dimensions do not match its data or moduli');
  }
  const out = ct.slice();
  const outView = new DataView(out.buffer);
  const half = degree / 2;
  for (let poly = 0; poly < size * nModuli; poly++) {
    const q = moduli[poly % nModuli];
    const base = CT_DATA_OFFSET + 8 * poly * degree;
    for (let k = 0; k < degree; k++) {
      // Negacyclic shift: X^(N/2) * c_k X^k = c_k X^(k + N/2), and X^N = -1.
      const v = view.getBigUint64(base + 8 * k, true);
      const to = k + half;
      if (to < degree) outView.setBigUint64(base + 8 * to, v, true);
      else outView.setBigUint64(base + 8 * (to - degree), v === 0n ? 0n : q - v, true);
    }
  }
  return out;
}

/**
 * One block's entry scores: the real slots, then the imaginary slots (he_layout.unpack_block),
 * given the real slots of the block and of the block times X^(N/2) (see timesXHalf).
 */
export function unpackBlock(real: ArrayLike<number>, shiftedReal: ArrayLike<number>): Float64Array {
  const out = new Float64Array(real.length + shiftedReal.length);
  out.set(real as ArrayLike<number>, 0);
  for (let j = 0; j < shiftedReal.length; j++) {
    // Re(i z) = -Im z at even slots, Re(-i z) = Im z at odd ones.
    out[real.length + j] = j % 2 === 0 ? -shiftedReal[j] : shiftedReal[j];
  }
  return out;
}

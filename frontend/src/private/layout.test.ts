import { describe, expect, it } from 'vitest';

import { blockCount, replicateQuery, rotationSteps, timesXHalf, unpackBlock, type SearchProfile } from './layout';

const profile = (dim: number, giant: number, degree = 8192): SearchProfile => ({
  params: { poly_degree: degree, coeff_bits: [60, 60], query_scale_bits: 33, gallery_scale_bits: 23 },
  dim,
  giant_step: giant,
});

/** An uncompressed SEAL ciphertext (coefficient form) with the given polynomials. */
function ciphertext(polys: bigint[][], moduli: number): Uint8Array {
  const degree = polys[0].length;
  const count = polys.length * degree;
  const out = new Uint8Array(113 + 8 * count);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xa15e, true);
  out[2] = 16;
  out[3] = 4;
  out[4] = 1;
  v.setBigUint64(8, BigInt(out.length), true);
  out[48] = 0; // not NTT form
  v.setBigUint64(49, BigInt(polys.length / moduli), true);
  v.setBigUint64(57, BigInt(degree), true);
  v.setBigUint64(65, BigInt(moduli), true);
  v.setFloat64(73, 2 ** 56, true);
  v.setBigUint64(81, 1n, true);
  v.setUint16(89, 0xa15e, true);
  v.setBigUint64(105, BigInt(count), true);
  polys.flat().forEach((c, i) => v.setBigUint64(113 + 8 * i, c, true));
  return out;
}

const coefficients = (ct: Uint8Array, n: number) => {
  const v = new DataView(ct.buffer, ct.byteOffset);
  return Array.from({ length: n }, (_, i) => v.getBigUint64(113 + 8 * i, true));
};

describe('the server layout in the browser', () => {
  it('asks Galois keys for steps 1 and the giant step only', () => {
    expect(rotationSteps(profile(128, 16))).toEqual([1, 16]);
    expect(rotationSteps(profile(128, 1))).toEqual([1]); // b = 1: 128 giant steps of 1
    expect(rotationSteps(profile(128, 128))).toEqual([1]);
  });

  it('normalises, pads and tiles the query over every slot', () => {
    const q = replicateQuery([3, 0, 4], profile(3, 2, 16));
    expect(Array.from(q)).toEqual([0.6, 0, 0.8, 0, 0.6, 0, 0.8, 0]);
    expect(() => replicateQuery([1, 2], profile(3, 2, 16))).toThrow(/dim 2/);
    expect(blockCount(16385, profile(128, 16))).toBe(3);
  });

  it('multiplies a ciphertext by X^(N/2) negacyclically, per modulus', () => {
    // (1 + 2X + 3X^2 + 4X^3) * X^2 = -3 - 4X + X^2 + 2X^3 (mod X^4 + 1, mod 17)
    const ct = ciphertext([[1n, 2n, 3n, 4n], [0n, 5n, 0n, 6n]], 1);
    const once = timesXHalf(ct, [17n]);
    expect(coefficients(once, 8)).toEqual([14n, 13n, 1n, 2n, 0n, 11n, 0n, 5n]);
    expect(coefficients(timesXHalf(once, [17n]), 4)).toEqual([16n, 15n, 14n, 13n]); // X^N = -1
    expect(() => timesXHalf(ct, [17n, 19n])).toThrow(/moduli/);
    const ntt = ct.slice();
    ntt[48] = 1;
    expect(() => timesXHalf(ntt, [17n])).toThrow(/coefficient form/);
  });

  it('unpacks real slots then imaginary slots (X^(N/2) multiplied slot j by i, -i, i, ...)', () => {
    // z = [1 + 3i, 2 - 4i, 5 + 6i]: the shifted block's real slots are [-3, -4, -6].
    expect(Array.from(unpackBlock([1, 2, 5], [-3, -4, -6]))).toEqual([1, 2, 5, 3, -4, 6]);
  });
});

// The key holder's half of a private search, in the browser: CKKS keys, the query
// ciphertext and the decryption of the encrypted scores, with node-seal (SEAL 4.1 in
// WebAssembly). What it sends (the public context, the query) is the server's he_wire
// format with "format": "seal-4.1" and uncompressed SEAL objects, which the server turns
// into its own (inference/engine/he_browser.py). The secret key never leaves this object.
// node-seal's wasm needs WebAssembly GC and the new exception opcodes: it runs in current
// Chromium, not in Node 20, so only the pure pieces (wire.ts, layout.ts) have unit tests.
import initialize, {
  type CKKSEncoder,
  type Decryptor,
  type EncryptionParameters,
  type Encryptor,
  type Evaluator,
  type KeyGenerator,
  type MainModule,
  type SEALContext,
} from 'node-seal';

import { blockCount, blockSize, replicateQuery, rotationSteps, timesXHalf, unpackBlock, type SearchProfile } from './layout';
import { PayloadError, pack, unpack } from './wire';

export const BROWSER_FORMAT = 'seal-4.1';

/** Load node-seal; `wasmUrl` says where the app serves seal_throws.wasm. */
export async function loadSeal(wasmUrl?: string): Promise<MainModule> {
  return initialize(wasmUrl ? { locateFile: () => wasmUrl } : {});
}

export class BrowserHEClient {
  readonly profile: SearchProfile;
  private readonly seal: MainModule;
  private readonly context: SEALContext;
  private readonly keygen: KeyGenerator;
  private readonly encoder: CKKSEncoder;
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;
  private readonly evaluator: Evaluator;
  private readonly parms: EncryptionParameters;

  constructor(seal: MainModule, profile: SearchProfile) {
    this.seal = seal;
    this.profile = profile;
    const { poly_degree: degree, coeff_bits: bits } = profile.params;
    const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
    parms.setPolyModulusDegree(degree);
    // CoeffModulus.Create is deterministic: the same primes as the server's TenSEAL.
    parms.setCoeffModulus(seal.CoeffModulus.Create(degree, Int32Array.from(bits)));
    // tc128: SEAL itself refuses parameters under 128-bit security (the server checks too).
    this.parms = parms;
    this.context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    if (!this.context.parametersSet()) throw new Error('the gallery\'s HE parameters are not valid');
    this.keygen = new seal.KeyGenerator(this.context);
    this.encoder = new seal.CKKSEncoder(this.context);
    // node-seal's Encryptor wants a public key; it stays here, queries are encrypted
    // symmetrically (seeded: half the upload) with the secret key.
    this.encryptor = new seal.Encryptor(this.context, this.keygen.createPublicKey());
    this.encryptor.setSecretKey(this.keygen.secretKey());
    this.decryptor = new seal.Decryptor(this.context, this.keygen.secretKey());
    this.evaluator = new seal.Evaluator(this.context);
  }

  /** The public context to POST to /api/he/contexts/: the profile and Galois keys for exactly
   *  the profile's rotation steps (no public, relinearisation or secret key). */
  async publicContext(): Promise<Uint8Array> {
    const steps = rotationSteps(this.profile);
    const sections: Uint8Array[] = [];
    if (steps.length) {
      const keys = this.keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(steps));
      sections.push(keys.saveToArray(this.seal.ComprModeType.none) as Uint8Array);
      keys.delete();
    }
    return pack('public_context', { profile: this.profile, format: BROWSER_FORMAT }, sections);
  }

  /** The query payload for /api/galleries/<id>/encrypted-search/?key_id=... */
  async encryptQuery(keyId: string, embedding: ArrayLike<number>): Promise<Uint8Array> {
    const seal = this.seal;
    const plain = new seal.Plaintext();
    this.encoder.encode(replicateQuery(embedding, this.profile), 2 ** this.profile.params.query_scale_bits, plain);
    // The server multiplies the query once, at the lowest level: primes above it are waste.
    const last = this.context.lastParmsId();
    if (!sameParms(plain.parmsId().values(), last.values())) this.evaluator.plainModSwitchToInplace(plain, last);
    const ct = this.encryptor.encryptSymmetricSerializable(plain);
    const bytes = ct.saveToArray(seal.ComprModeType.none) as Uint8Array;
    ct.delete();
    plain.delete();
    return pack('query', { key_id: keyId, dim: this.profile.dim, format: BROWSER_FORMAT }, [bytes]);
  }

  /** The score_set the server answered, decrypted: one score per gallery entry. */
  async decryptScores(container: Uint8Array, entries: number): Promise<Float64Array> {
    const seal = this.seal;
    const { header, sections: payloads } = await unpack(container, 'score_set');
    if (header.format !== BROWSER_FORMAT) throw new PayloadError('the scores are not in the browser format');
    const size = blockSize(this.profile);
    const nBlocks = blockCount(entries, this.profile);
    const scores = new Float64Array(nBlocks * size);
    const seen = new Array<boolean>(nBlocks).fill(false);
    const expectedScale = 2 ** (this.profile.params.query_scale_bits + this.profile.params.gallery_scale_bits);
    const ct = new seal.Ciphertext();
    const coeff = new seal.Ciphertext();
    const plain = new seal.Plaintext();
    try {
      for (const payload of payloads) {
        const { header: h, sections } = await unpack(payload, 'scores');
        const start = Number(h.start_block);
        const stop = Number(h.stop_block);
        if (!(start >= 0 && start < stop && stop <= nBlocks) || sections.length !== stop - start) {
          throw new PayloadError(`bad block range ${start}..${stop} for ${nBlocks} blocks`);
        }
        sections.forEach((section, i) => {
          const block = start + i;
          if (seen[block]) throw new PayloadError(`block ${block} returned twice`);
          ct.loadFromArray(this.context, section);
          if (ct.size() !== 2 || Math.abs(ct.scale() / expectedScale - 1) > 1e-9) {
            throw new PayloadError('unexpected score ciphertext shape or scale');
          }
          this.decryptor.decrypt(ct, plain);
          const real = this.encoder.decodeFloat64(plain) as Float64Array;
          // node-seal decodes real slots only: the imaginary half is read from ct * X^(N/2).
          this.evaluator.cipherTransformFromNtt(ct, coeff);
          const shifted = timesXHalf(coeff.saveToArray(seal.ComprModeType.none) as Uint8Array, this.moduliOf(ct));
          coeff.loadFromArray(this.context, shifted);
          this.evaluator.cipherTransformToNttInplace(coeff);
          this.decryptor.decrypt(coeff, plain);
          scores.set(unpackBlock(real, this.encoder.decodeFloat64(plain) as Float64Array), block * size);
          seen[block] = true;
        });
      }
    } finally {
      ct.delete();
      coeff.delete();
      plain.delete();
    }
    const missing = seen.flatMap((s, i) => (s ? [] : [i]));
    if (missing.length) throw new PayloadError(`missing score blocks ${missing.join(', ')}`);
    return scores.subarray(0, entries);
  }

  /** The encryption parameters (public), uncompressed SEAL 4.1. */
  encryptionParameters(): Uint8Array {
    return this.parms.saveToArray(this.seal.ComprModeType.none) as Uint8Array;
  }

  /** The secret key, for tests that check the server refuses it. */
  secretKeyForTests(): Uint8Array {
    return this.keygen.secretKey().saveToArray(this.seal.ComprModeType.none) as Uint8Array;
  }

  dispose(): void {
    for (const o of [this.decryptor, this.encryptor, this.encoder, this.evaluator, this.keygen, this.context, this.parms]) {
      o.delete();
    }
  }

  private moduliOf(ct: { parmsId(): ReturnType<SEALContext['lastParmsId']> }): bigint[] {
    const moduli = this.context.getContextData(ct.parmsId()).parms().coeffModulus();
    const out: bigint[] = [];
    for (let i = 0; i < moduli.size(); i++) out.push(moduli.get(i)!.value());
    return out;
  }
}

function sameParms(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
}

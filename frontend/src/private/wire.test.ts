import { describe, expect, it } from 'vitest';

import { PayloadError, pack, sectionsDigest, unpack } from './wire';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('he_wire payloads in the browser', () => {
  it('digests sections exactly as he_wire.sections_digest', async () => {
    // Python: sections_digest([b'abc', b''])
    expect(await sectionsDigest([bytes('abc'), new Uint8Array()])).toBe(
      '3e2f8940c3a0e0fd6f6e07bbf07f015dd7c147431e5fa14bf3f225d782641540',
    );
  });

  it('packs and unpacks a payload of one kind', async () => {
    const data = await pack('query', { key_id: 'k1', dim: 3 }, [bytes('one'), bytes('two!')]);
    expect(Array.from(data.subarray(0, 4))).toEqual([0x50, 0x46, 0x48, 0x45]);
    const { header, sections } = await unpack(data, 'query');
    expect(header).toEqual({ kind: 'query', key_id: 'k1', dim: 3 });
    expect(sections.map((s) => new TextDecoder().decode(s))).toEqual(['one', 'two!']);
  });

  it('refuses another kind, a damaged section and trailing bytes', async () => {
    const data = await pack('scores', {}, [bytes('payload')]);
    await expect(unpack(data, 'query')).rejects.toThrow(/expected a query payload/);
    const damaged = data.slice();
    damaged[damaged.length - 1] ^= 1;
    await expect(unpack(damaged, 'scores')).rejects.toThrow(PayloadError);
    const longer = new Uint8Array(data.length + 1);
    longer.set(data);
    await expect(unpack(longer, 'scores')).rejects.toThrow(/trailing/);
    await expect(unpack(data.subarray(0, 20), 'scores')).rejects.toThrow(/truncated/);
  });
});

// The he_wire payload format of inference/engine/he_wire.py, for the browser:
//   "PFHE" | version u8 | header length u32 | JSON header | section count u32
//   | (section length u64 | section bytes)*
// The header carries the payload's kind and the sha256 of its sections.

const MAGIC = [0x50, 0x46, 0x48, 0x45]; // "PFHE"
const VERSION = 1;

export type Header = Record<string, unknown>;

export class PayloadError extends Error {}

/** sha256 (hex) over (u64 length | bytes) of every section, as he_wire.sections_digest. */
export async function sectionsDigest(sections: Uint8Array[]): Promise<string> {
  const total = sections.reduce((n, s) => n + 8 + s.length, 0);
  const buf = new Uint8Array(total);
  const view = new DataView(buf.buffer);
  let pos = 0;
  for (const s of sections) {
    view.setBigUint64(pos, BigInt(s.length), true);
    buf.set(s, pos + 8);
    pos += 8 + s.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function pack(kind: string, header: Header, sections: Uint8Array[]): Promise<Uint8Array> {
  const head = new TextEncoder().encode(JSON.stringify({ kind, ...header, sha256: await sectionsDigest(sections) }));
  const total = 4 + 5 + head.length + 4 + sections.reduce((n, s) => n + 8 + s.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint8(4, VERSION);
  view.setUint32(5, head.length, true);
  out.set(head, 9);
  let pos = 9 + head.length;
  view.setUint32(pos, sections.length, true);
  pos += 4;
  for (const s of sections) {
    view.setBigUint64(pos, BigInt(s.length), true);
    out.set(s, pos + 8);
    pos += 8 + s.length;
  }
  return out;
}

/** Header and sections of a payload of `kind`; checks its sha256 like he_wire.unpack. */
export async function unpack(data: Uint8Array, kind: string): Promise<{ header: Header; sections: Uint8Array[] }> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const need = (end: number) => {
    if (end > data.length) throw new PayloadError('truncated payload');
  };
  need(9);
  if (MAGIC.some((b, i) => data[i] !== b)) throw new PayloadError('not a PrivFace HE payload');
  if (view.getUint8(4) !== VERSION) throw new PayloadError(`unsupported payload version ${view.getUint8(4)}`);
  const headLen = view.getUint32(5, true);
  need(9 + headLen + 4);
  const header = JSON.parse(new TextDecoder().decode(data.subarray(9, 9 + headLen))) as Header;
  let pos = 9 + headLen;
  const count = view.getUint32(pos, true);
  pos += 4;
  const sections: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    need(pos + 8);
    const size = Number(view.getBigUint64(pos, true));
    pos += 8;
    need(pos + size);
    sections.push(data.subarray(pos, pos + size));
    pos += size;
  }
  if (pos !== data.length) throw new PayloadError('trailing bytes');
  if (header.kind !== kind) throw new PayloadError(`expected a ${kind} payload, got ${String(header.kind)}`);
  const { sha256, ...rest } = header;
  if (sha256 !== undefined && sha256 !== (await sectionsDigest(sections))) {
    throw new PayloadError('the payload is damaged (its sha256 does not match)');
  }
  return { header: rest, sections };
}

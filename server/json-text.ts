/**
 * Helpers for JSON response bodies that a route writes as text instead of
 * passing an object to JSON.stringify: hex for many hashes at once, and the
 * UTF-8 bytes of a body made of parts.
 */
import type { Context } from 'hono';

/**
 * Hex of hashes, each distinct Uint8Array object encoded once. The
 * receipts of one request share proof nodes as the same objects, so keying
 * by identity finds the repeats without comparing bytes.
 */
export class HexTable {
  private readonly slots = new Map<Uint8Array, string>();
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;

  /** Queues `bytes` for encoding, unless this object is already in the table. */
  add(bytes: Uint8Array): void {
    if (this.slots.has(bytes)) return;
    this.slots.set(bytes, '');
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /** Encodes the queued values with one hex conversion. */
  encode(): void {
    const all = Buffer.allocUnsafe(this.pendingBytes);
    let offset = 0;
    for (const bytes of this.pending) {
      all.set(bytes, offset);
      offset += bytes.length;
    }
    const hex = all.toString('hex');
    offset = 0;
    for (const bytes of this.pending) {
      const end = offset + 2 * bytes.length;
      this.slots.set(bytes, hex.slice(offset, end));
      offset = end;
    }
    this.pending.length = 0;
    this.pendingBytes = 0;
  }

  /** Returns the lowercase hex of an added and encoded value. */
  hex(bytes: Uint8Array): string {
    const text = this.slots.get(bytes);
    if (text === undefined || (text === '' && bytes.length > 0)) {
      throw new Error('HexTable.hex: the value was not added and encoded');
    }
    return text;
  }

  /** Returns a JSON array of the hex of added and encoded values, such as `["ab","cd"]`. */
  array(list: readonly Uint8Array[]): string {
    if (list.length === 0) return '[]';
    let out = `["${this.hex(list[0]!)}"`;
    for (let i = 1; i < list.length; i++) out += `,"${this.hex(list[i]!)}"`;
    return `${out}]`;
  }
}

/** Returns the lowercase hex of each value, with one conversion for all of them. */
export function hexEach(list: readonly Uint8Array[]): string[] {
  const hex = Buffer.concat(list).toString('hex');
  const out = new Array<string>(list.length);
  let offset = 0;
  for (let i = 0; i < list.length; i++) {
    const end = offset + 2 * list[i]!.length;
    out[i] = hex.slice(offset, end);
    offset = end;
  }
  return out;
}

/** Returns a JSON array of strings that need no escaping, such as hex: `["ab","cd"]`. */
export function plainStringArray(list: readonly string[]): string {
  return list.length === 0 ? '[]' : `["${list.join('","')}"]`;
}

/**
 * Returns the UTF-8 bytes of the concatenated parts. V8 stores a string
 * with any character above U+00FF, such as the em dash of a signed note,
 * at two bytes per character. Encoding each part on its own keeps that
 * cost to the part that has such a character, instead of the whole body.
 */
export function utf8Parts(parts: readonly string[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  const lengths = parts.map((part) => {
    const n = Buffer.byteLength(part, 'utf8');
    total += n;
    return n;
  });
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  parts.forEach((part, i) => {
    out.write(part, offset, 'utf8');
    offset += lengths[i]!;
  });
  return out;
}

/** Returns a 200 response of JSON text given as parts, with the Content-Type of Hono's c.json. */
export function jsonParts(c: Context, parts: readonly string[]): Response {
  return c.body(utf8Parts(parts), 200, { 'Content-Type': 'application/json' });
}

/**
 * Helpers for JSON response bodies that a route writes as text instead of
 * passing an object to JSON.stringify: hex for many hashes at once, the
 * UTF-8 bytes of a body made of parts, and a writer of bodies as bytes.
 */
import type { Context } from 'hono';

/** Character codes of the lowercase hex digits. */
const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef');

/** Strings up to this length are copied in JavaScript when they are ASCII, to skip a native call. */
const SHORT_TEXT = 64;

/**
 * A response body written as UTF-8 into one growing buffer, for JSON texts
 * with many hashes: a hash is written as hex without a string of its own,
 * and text repeated from earlier in the body is copied as bytes.
 */
export class BodyWriter {
  private buffer: Buffer<ArrayBuffer>;
  /** Number of bytes written. */
  length = 0;

  /** Starts with a buffer of `capacity` bytes, which grows as needed. */
  constructor(capacity = 4096) {
    this.buffer = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  /** Appends the UTF-8 of `text`. */
  text(text: string): void {
    this.reserve(3 * text.length);
    const buffer = this.buffer;
    const start = this.length;
    if (text.length <= SHORT_TEXT) {
      let i = 0;
      for (; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[start + i] = code;
      }
      if (i === text.length) {
        this.length = start + i;
        return;
      }
    }
    this.length = start + buffer.write(text, start, 'utf8');
  }

  /** Appends the lowercase hex of `bytes`. */
  hex(bytes: Uint8Array): void {
    this.reserve(2 * bytes.length);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      buffer[at++] = HEX_DIGITS[byte >> 4]!;
      buffer[at++] = HEX_DIGITS[byte & 15]!;
    }
    this.length = at;
  }

  /** Appends a copy of the bytes [start, end) already written. */
  repeat(start: number, end: number): void {
    if (!(0 <= start && start <= end && end <= this.length)) {
      throw new RangeError(
        `BodyWriter.repeat: [${start}, ${end}) is not within ${this.length} bytes`,
      );
    }
    this.reserve(end - start);
    this.buffer.copyWithin(this.length, start, end);
    this.length += end - start;
  }

  /** Returns the bytes written, a view of the writer's buffer. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.length + bytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
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
  return jsonBytes(c, utf8Parts(parts));
}

/** Returns a 200 response of JSON text given as UTF-8 bytes, with the Content-Type of Hono's c.json. */
export function jsonBytes(c: Context, bytes: Uint8Array<ArrayBuffer>): Response {
  return c.body(bytes, 200, { 'Content-Type': 'application/json' });
}

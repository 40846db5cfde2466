/**
 * Strict text encodings shared by the wire formats: lowercase hex, standard
 * padded base64 (RFC 4648 section 4) and unsigned decimals without leading
 * zeros. Each parser accepts only the one canonical spelling of a value.
 */
import { InputError } from './errors.js';

/** Two lowercase hex digits for each byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]!]!;
  return out;
}

/** Value of each ASCII hex digit, upper or lower case, and -1 for other characters. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUES['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Decodes lowercase or uppercase hex; `what` names the value in the error. */
export function fromHex(text: string, what = 'hex value'): Uint8Array {
  const fail = () =>
    new InputError('invalid_hex', `invalid ${what}: expected an even number of hex digits`);
  if (text.length % 2 !== 0) throw fail();
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = text.charCodeAt(2 * i);
    const low = text.charCodeAt(2 * i + 1);
    const value = ((high < 128 ? HEX_VALUES[high]! : -1) << 4) | (low < 128 ? HEX_VALUES[low]! : -1);
    if (value < 0) throw fail();
    out[i] = value;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Encodes bytes as standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return out;
}

/**
 * Decodes standard padded base64, rejecting other alphabets, missing padding,
 * whitespace and non-zero trailing bits, so each value has one spelling.
 */
export function fromBase64(text: string, what = 'base64 value'): Uint8Array {
  const fail = (why: string) => new InputError('invalid_base64', `invalid ${what}: ${why}`);
  if (text.length % 4 !== 0) throw fail('length is not a multiple of 4');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = i + j >= text.length - pad;
      const v = isPad ? (c === 61 ? 0 : -1) : c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) throw fail(`unexpected character at offset ${i + j}`);
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
    if (i + 4 === text.length && pad > 0) {
      const unusedBits = pad === 2 ? n & 0xffff : n & 0xff;
      if (unusedBits !== 0) throw fail('non-zero padding bits');
    }
  }
  return out;
}

/** Largest tree size or index declog handles: sizes are JavaScript numbers. */
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * Parses an unsigned decimal with no sign, no leading zeros (`0` alone is
 * allowed) and a value of at most 2^53 - 1; `what` names the value in errors.
 */
export function parseDecimal(text: string, what = 'number'): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new InputError(
      'invalid_number',
      `invalid ${what} ${JSON.stringify(text.slice(0, 40))}: expected an unsigned decimal with no sign or leading zeros`,
    );
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new InputError('invalid_number', `invalid ${what} ${text}: larger than 2^53-1`);
  }
  return value;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Encodes a string as UTF-8. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing on invalid byte sequences. */
export function fromUtf8(bytes: Uint8Array, what = 'text'): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new InputError('invalid_argument', `invalid ${what}: not valid UTF-8`, { cause });
  }
}

/** Returns whether two byte arrays are equal. Not constant time. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

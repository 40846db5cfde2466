/**
 * A declarative description of the requests a benchmark sends, which both
 * load generators run: the node:http client renders it in this process with
 * renderRequest, and wrk runs the Lua script that bench/wrk.ts generates
 * from it. Request number n (0, 1, 2, ...) fills in the path and the body,
 * so the two clients send the same bytes for the same n.
 */
import { formatTileIndex } from '../src/tiles.js';

export interface RequestSpec {
  method: 'GET' | 'POST';
  /** Path and query, such as /v1/proof/inclusion?index=7. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * An integer computed from the request number n: `(n + add) mod mod`
 * (`{ of: 'n' }` is n itself), or `randomIndex(n, below)`.
 */
export type Integer = { of: 'n'; add?: number; mod?: number } | { of: 'random'; below: number };

/** One piece of a path or body template. */
export type Part =
  /** Text sent as it is. */
  | string
  /** An integer in decimal digits, or as a tlog-tiles index path such as x001/234. */
  | { integer: Integer; format?: 'decimal' | 'tile-index' }
  /** Element `value mod pick.length` of `pick`. */
  | { pick: readonly string[]; by: Integer }
  /**
   * `count` copies of `parts` joined by `separator`. Inside copy i, n is
   * `n * count + i`, so the copies of different requests use different numbers.
   */
  | { repeat: number; separator: string; parts: readonly Part[] };

export interface RequestTemplate {
  method: 'GET' | 'POST';
  /** Path and query; its first part is text that starts with '/'. */
  path: readonly Part[];
  /** Header names and values, the same for every request. */
  headers?: Readonly<Record<string, string>>;
  body?: readonly Part[];
}

/** Returns a well-mixed 32-bit hash of n: MurmurHash3's fmix32 of n plus the golden-ratio constant. */
export function mix32(n: number): number {
  let z = (n + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Returns the index that request `n` requests: reproducible, spread evenly below `size`. */
export function randomIndex(n: number, size: number): number {
  return Math.floor((mix32(n) / 2 ** 32) * size);
}

/** HTTP token characters (RFC 9110, section 5.6.2), which a header name consists of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space and tab: a header value that cannot end the header or the head. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Visible ASCII without space: text that cannot end the request line. */
const PATH_TEXT = /^[\x21-\x7e]*$/;
/** Headers that the load generators set themselves. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);
/**
 * Largest request number and integer value. wrk's Lua (LuaJIT) converts
 * numbers to 32-bit integers for bit operations only below 2^51 in magnitude.
 */
export const MAX_REQUEST_NUMBER = 2 ** 50;

function checkInteger(integer: Integer, where: string): void {
  const whole = (value: number | undefined, min: number) =>
    value === undefined || (Number.isSafeInteger(value) && value >= min);
  if (integer.of === 'n') {
    if (!whole(integer.add, 0) || !whole(integer.mod, 1)) {
      throw new Error(
        `${where}: add must be an integer >= 0 and mod an integer >= 1, not ${JSON.stringify(integer)}`,
      );
    }
    return;
  }
  if (!whole(integer.below, 1)) {
    throw new Error(`${where}: below must be an integer >= 1, not ${integer.below}`);
  }
}

function checkParts(parts: readonly Part[], where: string, text: RegExp): void {
  for (const part of parts) {
    if (typeof part === 'string') {
      if (!text.test(part)) throw new Error(`${where}: invalid text ${JSON.stringify(part)}`);
    } else if ('integer' in part) {
      checkInteger(part.integer, where);
    } else if ('pick' in part) {
      if (part.pick.length === 0) throw new Error(`${where}: pick has no elements`);
      for (const choice of part.pick) {
        if (!text.test(choice)) throw new Error(`${where}: invalid pick ${JSON.stringify(choice)}`);
      }
      checkInteger(part.by, where);
    } else {
      if (!Number.isSafeInteger(part.repeat) || part.repeat < 1) {
        throw new Error(`${where}: repeat must be an integer >= 1, not ${part.repeat}`);
      }
      if (!text.test(part.separator)) {
        throw new Error(`${where}: invalid separator ${JSON.stringify(part.separator)}`);
      }
      checkParts(part.parts, where, text);
    }
  }
}

/**
 * Throws unless the template is safe to send. Header names must be tokens
 * and not ones the load generators set. Header values and path text must
 * contain no control characters, so no line break can end the request line
 * or a header early. The path must start with '/', and every integer must
 * be whole.
 */
export function validateTemplate(template: RequestTemplate): void {
  const first = template.path[0];
  if (typeof first !== 'string' || !first.startsWith('/')) {
    throw new Error(`the path template must start with text that starts with '/'`);
  }
  checkParts(template.path, 'path', PATH_TEXT);
  for (const [name, value] of Object.entries(template.headers ?? {})) {
    if (!TOKEN.test(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new Error(`header ${name} is set by the load generator, not by the template`);
    }
    if (!HEADER_VALUE.test(value)) {
      throw new Error(`invalid value of header ${name}: ${JSON.stringify(value)}`);
    }
  }
  if (template.body !== undefined) checkParts(template.body, 'body', /^/);
}

function integerOf(integer: Integer, n: number): number {
  const value = integer.of === 'random' ? n : n + (integer.add ?? 0);
  if (value > MAX_REQUEST_NUMBER) throw new Error(`integer ${value} is above 2^50`);
  if (integer.of === 'random') return randomIndex(n, integer.below);
  return integer.mod === undefined ? value : value % integer.mod;
}

function renderInto(parts: readonly Part[], n: number, out: string[]): void {
  for (const part of parts) {
    if (typeof part === 'string') {
      out.push(part);
    } else if ('integer' in part) {
      const value = integerOf(part.integer, n);
      out.push(part.format === 'tile-index' ? formatTileIndex(value) : String(value));
    } else if ('pick' in part) {
      out.push(part.pick[integerOf(part.by, n) % part.pick.length]!);
    } else {
      for (let i = 0; i < part.repeat; i++) {
        if (i > 0) out.push(part.separator);
        renderInto(part.parts, n * part.repeat + i, out);
      }
    }
  }
}

/** Returns the text of `parts` for request number `n`. */
export function renderParts(parts: readonly Part[], n: number): string {
  const out: string[] = [];
  renderInto(parts, n, out);
  return out.join('');
}

/** Returns request number `n` of the template. */
export function renderRequest(template: RequestTemplate, n: number): RequestSpec {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_REQUEST_NUMBER) {
    throw new Error(`request number ${n} is not an integer from 0 to 2^50`);
  }
  return {
    method: template.method,
    path: renderParts(template.path, n),
    headers: template.headers === undefined ? undefined : { ...template.headers },
    body: template.body === undefined ? undefined : renderParts(template.body, n),
  };
}

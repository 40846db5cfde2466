/**
 * POST /v1/decisions: a validator appends one decision or a batch of them
 * and gets, for each, its index and an inclusion proof against the signed
 * checkpoint that first covers the whole request.
 */
import type { Context, Hono } from 'hono';
import {
  decodeCBORBody,
  EntryBuffer,
  type SubmittedDecision,
  submittedFromCBORValue,
  submittedFromJSON,
} from '../src/decision.js';
import { fromUtf8 } from '../src/encoding.js';
import { type ErrorCodes, InputError } from '../src/errors.js';
import type { AppendResult, Ledger } from '../src/ledger.js';
import { formatTlogProof } from '../src/tlog-proof.js';
import { bearerAuth } from './auth.js';
import { readBody } from './body.js';
import type { AppEnv } from './env.js';
import { HexTable, jsonParts } from './json-text.js';
import { readQuery } from './query.js';
import type { Appender } from './readers.js';
import type { WitnessPublisher } from '../src/witness-publisher.js';
import { afterAppend, waitWitnessed } from './witnessing.js';

/** Maximum number of decisions in one request. */
export const MAX_REQUEST_DECISIONS = 10_000;

/** Media type of receipts that carry c2sp.org/tlog-proof texts instead of bare proofs. */
export const TLOG_PROOF_MEDIA_TYPE = 'application/x-tlog-proof+json';

type InputCode = (typeof ErrorCodes.input)[number];
type Parser = (value: unknown, validator: string, into: EntryBuffer) => SubmittedDecision;

/** Returns the media type of a Content-Type header, lowercase and without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

// TODO: reject duplicate object keys, which JSON.parse resolves silently to the last value.
function parseJSON(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8(bytes, 'JSON body'));
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new InputError('malformed_json', `malformed JSON body: ${reason}`, { cause });
  }
}

interface BodyFormat {
  decode: (bytes: Uint8Array) => unknown;
  parse: Parser;
}

const JSON_FORMAT: BodyFormat = { decode: parseJSON, parse: submittedFromJSON };
const CBOR_FORMAT: BodyFormat = { decode: decodeCBORBody, parse: submittedFromCBORValue };

/** Picks the body format from the Content-Type media type. */
function bodyFormat(type: string): BodyFormat {
  if (type === 'application/json') return JSON_FORMAT;
  if (type === 'application/cbor') return CBOR_FORMAT;
  throw new InputError(
    'unsupported_media_type',
    `Content-Type ${JSON.stringify(type.slice(0, 80))} is not application/json or application/cbor`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the batch of a `{"decisions": [...]}` body, or undefined for a single decision. */
function batchOf(value: unknown): unknown[] | undefined {
  if (!isObject(value) || !Object.hasOwn(value, 'decisions')) return undefined;
  const extra = Object.keys(value).filter((k) => k !== 'decisions');
  if (extra.length > 0) {
    throw new InputError(
      'invalid_decision',
      `a batch body contains only "decisions", but it also has ${JSON.stringify(extra[0]!.slice(0, 40))}`,
    );
  }
  const list = value.decisions;
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_REQUEST_DECISIONS) {
    const got = Array.isArray(list) ? `${list.length} decisions` : `a ${typeof list}`;
    throw new InputError(
      'invalid_decision',
      `"decisions" must be an array of 1 to ${MAX_REQUEST_DECISIONS} decisions, got ${got}`,
    );
  }
  return list;
}

/**
 * Validates every decision first, so one invalid decision rejects the whole
 * request. The entries share buffers of `bodyBytes` each, about the size of
 * all of them, since an entry is usually shorter than its JSON.
 */
function parseDecisions(
  value: unknown,
  parse: Parser,
  validator: string,
  bodyBytes: number,
): SubmittedDecision[] {
  const into = new EntryBuffer(bodyBytes);
  const batch = batchOf(value);
  if (!batch) return [parse(value, validator, into)];
  return batch.map((item, i) => {
    try {
      return parse(item, validator, into);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      const code = err.code as InputCode;
      throw new InputError(code, `decisions[${i}]: ${err.message}`, { cause: err });
    }
  });
}

/** Returns whether the client requested c2sp.org/tlog-proof receipts. */
function wantsTlogProof(c: Context, format: string | undefined): boolean {
  if (format !== undefined && format !== 'tlog-proof') {
    throw new InputError(
      'invalid_argument',
      `query parameter format is ${JSON.stringify(format.slice(0, 40))}: the only format is tlog-proof`,
    );
  }
  return format === 'tlog-proof' || accepts(c.req.header('Accept'), TLOG_PROOF_MEDIA_TYPE);
}

/** Returns whether an Accept header lists `type` with a non-zero q (RFC 9110 section 12.5.1). */
function accepts(header: string | undefined, type: string): boolean {
  return (header ?? '').split(',').some((range) => {
    const [name, ...params] = range.split(';');
    const rejected = params.some((p) => /^\s*q\s*=\s*0(\.0{0,3})?\s*$/i.test(p));
    return mediaType(name) === type && !rejected;
  });
}

/**
 * Returns the receipts body: `{"checkpoint", "tree_size", "validator",
 * "entries"}`, each entry `{"index", "leaf_hash", "inclusion_proof" or
 * "tlog_proof", "duplicate"}`. The text is the same as JSON.stringify of
 * that object, written directly so that each distinct hash is hex-encoded
 * once per response.
 */
export function receiptsBody(
  result: AppendResult,
  validator: string,
  tlogProof: boolean,
): string[] {
  const { checkpoint, entries } = result;
  const head =
    `{"checkpoint":${JSON.stringify(checkpoint.note)},"tree_size":${checkpoint.size},` +
    `"validator":${JSON.stringify(validator)},"entries":[`;
  const hex = new HexTable();
  for (const r of entries) {
    hex.add(r.leafHash);
    if (!tlogProof) for (const node of r.inclusionProof) hex.add(node);
  }
  hex.encode();
  let list = '';
  entries.forEach((r, i) => {
    const proof = tlogProof
      ? `"tlog_proof":${JSON.stringify(
          formatTlogProof({ index: r.index, proof: r.inclusionProof, checkpoint: checkpoint.note }),
        )}`
      : `"inclusion_proof":${hex.array(r.inclusionProof)}`;
    list +=
      `${i === 0 ? '' : ','}{"index":${r.index},"leaf_hash":"${hex.hex(r.leafHash)}",` +
      `${proof},"duplicate":${r.duplicate}}`;
  });
  return [head, list, ']}'];
}

/** Registers POST /v1/decisions on the app. Bodies over `maxBodyBytes` get a 413. */
/** With `?wait=witnessed` it answers once a witnessed checkpoint covers the request. */
/** In a reader process, `appender` sequences the decisions in the sequencing process. */
export function registerAppend(
  app: Hono<AppEnv>,
  ledger: Ledger,
  maxBodyBytes: number,
  publisher?: WitnessPublisher,
  appender: Appender = ledger,
): void {
  app.post('/v1/decisions', bearerAuth(ledger), async (c) => {
    const query = readQuery(c, ['format', 'wait']);
    const tlogProof = wantsTlogProof(c, query.get('format'));
    const wait = waitWitnessed(query.get('wait'), publisher);
    const format = bodyFormat(mediaType(c.req.header('Content-Type')));
    const body = await readBody(c, maxBodyBytes);
    const value = format.decode(body);
    const validator = c.get('validator');
    const submitted = parseDecisions(value, format.parse, validator, body.length);
    const appended = await appender.append(
      validator,
      submitted.map((s) => s.decision),
      submitted.map((s) => s.entry),
    );
    const result = await afterAppend(ledger, appended, publisher, wait);
    return jsonParts(c, receiptsBody(result, validator, tlogProof));
  });
}

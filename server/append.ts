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
import { fromUtf8, toHex } from '../src/encoding.js';
import { type ErrorCodes, InputError } from '../src/errors.js';
import type { AppendResult, Ledger } from '../src/ledger.js';
import { formatTlogProof } from '../src/tlog-proof.js';
import { bearerAuth } from './auth.js';
import { readBody } from './body.js';
import type { AppEnv } from './env.js';
import { BodyWriter, jsonBytes, utf8Parts } from './json-text.js';
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
 * "tlog_proof", "duplicate"}`, as the UTF-8 of JSON.stringify of that
 * object. Inclusion proofs are written as bytes, without a string per hash.
 */
export function receiptsBody(
  result: AppendResult,
  validator: string,
  tlogProof: boolean,
): Uint8Array<ArrayBuffer> {
  const { checkpoint, entries } = result;
  const head =
    `{"checkpoint":${JSON.stringify(checkpoint.note)},"tree_size":${checkpoint.size},` +
    `"validator":${JSON.stringify(validator)},"entries":[`;
  if (tlogProof) {
    let list = '';
    entries.forEach((r, i) => {
      const proof = formatTlogProof({
        index: r.index,
        proof: r.inclusionProof,
        checkpoint: checkpoint.note,
      });
      list +=
        `${i === 0 ? '' : ','}{"index":${r.index},"leaf_hash":"${toHex(r.leafHash)}",` +
        `"tlog_proof":${JSON.stringify(proof)},"duplicate":${r.duplicate}}`;
    });
    return utf8Parts([head, list, ']}']);
  }
  // An entry takes at most 150 bytes besides its proof, and 67 bytes for each proof hash.
  // The first proof's length, plus one, is an estimate: the writer grows when it is short.
  const hashes = (entries[0]?.inclusionProof.length ?? 0) + 1;
  const out = new BodyWriter(3 * head.length + 2 + entries.length * (150 + 67 * hashes));
  out.text(head);
  const proofs = new ProofArrays(out);
  entries.forEach((r, i) => {
    out.text(`${i === 0 ? '' : ','}{"index":${r.index},"leaf_hash":"`);
    out.hex(r.leafHash);
    out.text('","inclusion_proof":');
    proofs.write(r.inclusionProof);
    out.text(`,"duplicate":${r.duplicate}}`);
  });
  out.text(']}');
  return out.bytes();
}

/**
 * Writes the "inclusion_proof" arrays of receipts, as JSON arrays of hex.
 * The proofs of neighbouring entries end with the same nodes, as the same
 * objects, so the text of the nodes that a proof shares with the previous
 * proof is copied from the previous array instead of encoded again.
 */
class ProofArrays {
  private previous: readonly Uint8Array[] = [];
  /** Body offsets of the previous array's "[" and of the byte after its "]". */
  private previousStart = 0;
  private previousEnd = 0;

  constructor(private readonly out: BodyWriter) {}

  /** Appends `proof` as a JSON array of the hex of its hashes. */
  write(proof: readonly Uint8Array[]): void {
    const { out, previous } = this;
    let shared = 0;
    while (
      shared < proof.length &&
      shared < previous.length &&
      proof[proof.length - 1 - shared] === previous[previous.length - 1 - shared]
    ) {
      shared++;
    }
    const own = proof.length - shared;
    const start = out.length;
    out.text('[');
    for (let j = 0; j < own; j++) {
      if (j > 0) out.text(',');
      out.text('"');
      out.hex(proof[j]!);
      out.text('"');
    }
    if (shared > 0) {
      if (own > 0) out.text(',');
      // Skip the "[" and each unshared hash of the previous array: its hex, two quotes and a comma.
      let from = this.previousStart + 1;
      for (let k = 0; k < previous.length - shared; k++) from += 2 * previous[k]!.length + 3;
      // From there, the previous text runs to the end of its array, "]" included.
      out.repeat(from, this.previousEnd);
    } else {
      out.text(']');
    }
    this.previous = proof;
    this.previousStart = start;
    this.previousEnd = out.length;
  }
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
    return jsonBytes(c, receiptsBody(result, validator, tlogProof));
  });
}

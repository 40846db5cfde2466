/**
 * Trust policies (c2sp.org/tlog-policy): which log keys to accept and which
 * quorum of witness cosignatures a checkpoint needs.
 *
 *     log <vkey> [<url>]
 *     witness <name> <vkey> [<url>]
 *     group <name> <all|any|k> <name>...
 *     quorum <name|none>
 */
import { InputError, VerificationError } from './errors.js';
import { bytesEqual, fromUtf8, parseDecimal } from './encoding.js';
import { leafHash } from './hash.js';
import { parseCheckpoint, type SignedCheckpoint } from './checkpoint.js';
import { parseTlogProof } from './tlog-proof.js';
import { verifyInclusion } from './verify.js';
import {
  ALG_COSIGNATURE_V1,
  newCosignatureVerifier,
  type CosignatureVerifier,
} from './cosignature.js';
import {
  ALG_ED25519,
  decodeVerifierKey,
  keyLabel,
  newVerifier,
  openNote,
  parseNote,
  type Note,
  type NoteSignature,
  type Verifier,
} from './note.js';

/** A log or witness key as written in the policy. */
export interface PolicyKey<V extends Verifier = Verifier> {
  verifier: V;
  vkey: string;
  url?: string;
}

/** A witness group, which witnesses a checkpoint when at least `threshold` members do. */
export interface PolicyGroup {
  threshold: number;
  members: string[];
}

/** A parsed policy. `quorum` is a witness or group name, or 'none'. */
export interface Policy {
  logs: PolicyKey[];
  witnesses: Map<string, PolicyKey<CosignatureVerifier>>;
  groups: Map<string, PolicyGroup>;
  quorum: string;
}

/** Maximum policy length in characters. */
export const MAX_POLICY_LENGTH = 1 << 20;

/** Maximum number of logs, of witnesses and of groups. The spec recommends supporting 32. */
export const MAX_POLICY_ITEMS = 256;

/** Parser state: the policy so far plus the public keys seen, to reject duplicates. */
interface State {
  policy: Omit<Policy, 'quorum'> & { quorum?: string };
  logKeys: Uint8Array[];
  witnessKeys: Uint8Array[];
}

/** An error on one policy line, given its line number by parsePolicy. */
class LineError extends Error {}

function lineError(reason: string): LineError {
  return new LineError(reason);
}

function codePoint(char: string): string {
  return 'U+' + char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
}

/** Runs `fn`, turning a key error into a line error with its message. */
function keyOrFail<T>(fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof VerificationError || cause instanceof InputError) {
      throw lineError(cause.message);
    }
    throw cause;
  }
}

function checkArity(fields: string[], min: number, max: number, usage: string): void {
  if (fields.length < min || fields.length > max) throw lineError(`expected ${usage}`);
}

function checkCount(n: number, kind: string): void {
  if (n >= MAX_POLICY_ITEMS) throw lineError(`more than ${MAX_POLICY_ITEMS} ${kind}`);
}

function addUniqueKey(seen: Uint8Array[], key: Uint8Array, kind: string): void {
  if (seen.some((k) => bytesEqual(k, key))) throw lineError(`duplicate ${kind} public key`);
  seen.push(key);
}

/** `log <vkey> [<url>]`: an Ed25519 note key (type 0x01) named by the log origin. */
function parseLog(state: State, fields: string[]): void {
  checkArity(fields, 2, 3, 'log <vkey> [<url>]');
  checkCount(state.policy.logs.length, 'logs');
  const vkey = fields[1]!;
  const { publicKey } = keyOrFail(() => decodeVerifierKey(vkey, ALG_ED25519));
  addUniqueKey(state.logKeys, publicKey, 'log');
  const url = fields[2];
  state.policy.logs.push({ verifier: newVerifier(vkey), vkey, ...(url ? { url } : {}) });
}

/** Checks that `name` is new in the shared namespace of witnesses and groups. */
function checkNewName(state: State, name: string): void {
  if (name === 'none') throw lineError(`the name "none" is reserved`);
  const { witnesses, groups } = state.policy;
  if (witnesses.has(name) || groups.has(name)) throw lineError(`${name} is already defined`);
}

/** `witness <name> <vkey> [<url>]`: an Ed25519 cosignature key (type 0x04). */
function parseWitness(state: State, fields: string[]): void {
  checkArity(fields, 3, 4, 'witness <name> <vkey> [<url>]');
  checkCount(state.policy.witnesses.size, 'witnesses');
  const [, name, vkey, url] = fields as [string, string, string, string?];
  checkNewName(state, name);
  const { publicKey } = keyOrFail(() => decodeVerifierKey(vkey, ALG_COSIGNATURE_V1));
  addUniqueKey(state.witnessKeys, publicKey, 'witness');
  const verifier = newCosignatureVerifier(vkey);
  state.policy.witnesses.set(name, { verifier, vkey, ...(url ? { url } : {}) });
}

function parseThreshold(text: string, members: number): number {
  if (text === 'all') return members;
  if (text === 'any') return 1;
  const k = keyOrFail(() => parseDecimal(text, 'group threshold'));
  if (k < 1 || k > members) throw lineError(`threshold ${k} is not between 1 and ${members}`);
  return k;
}

/** Checks that each member was defined on an earlier line and is listed once. */
function checkMembers(state: State, members: string[]): void {
  const { witnesses, groups } = state.policy;
  members.forEach((m, i) => {
    if (m === 'none') throw lineError(`"none" cannot be a group member`);
    if (!witnesses.has(m) && !groups.has(m)) throw lineError(`${m} is not defined above`);
    if (members.indexOf(m) !== i) throw lineError(`${m} is listed twice`);
  });
}

/** `group <name> <all|any|k> <name>...`, members defined on earlier lines. */
function parseGroup(state: State, fields: string[]): void {
  checkArity(fields, 4, Infinity, 'group <name> <all|any|k> <member>...');
  checkCount(state.policy.groups.size, 'groups');
  const [, name, k, ...members] = fields as [string, string, string, ...string[]];
  checkNewName(state, name);
  checkMembers(state, members);
  state.policy.groups.set(name, { threshold: parseThreshold(k, members.length), members });
}

/** `quorum <name|none>`: exactly once, naming a witness or group defined above. */
function parseQuorum(state: State, fields: string[]): void {
  checkArity(fields, 2, 2, 'quorum <name>');
  if (state.policy.quorum !== undefined) throw lineError('second quorum line');
  const name = fields[1]!;
  const { witnesses, groups } = state.policy;
  if (name !== 'none' && !witnesses.has(name) && !groups.has(name)) {
    throw lineError(`${name} is not defined above`);
  }
  state.policy.quorum = name;
}

const KEYWORDS: Record<string, (state: State, fields: string[]) => void> = {
  log: parseLog,
  witness: parseWitness,
  group: parseGroup,
  quorum: parseQuorum,
};

/** Only tab, LF, 0x20-0x7E and non-ASCII (c2sp.org/tlog-policy, "Character set"). */
const FORBIDDEN = /[\x00-\x08\x0b-\x1f\x7f]/;

/** Parses one line, skipping blank and comment lines. */
function parseLine(state: State, line: string): void {
  const bad = FORBIDDEN.exec(line);
  if (bad) throw lineError(`forbidden character ${codePoint(bad[0])}`);
  const fields = line.split(/[ \t]+/).filter((f) => f !== '');
  if (fields.length === 0 || fields[0]!.startsWith('#')) return;
  const parse = Object.hasOwn(KEYWORDS, fields[0]!) ? KEYWORDS[fields[0]!] : undefined;
  if (!parse) throw lineError(`unknown keyword ${JSON.stringify(fields[0]!.slice(0, 40))}`);
  parse(state, fields);
}

function policyError(line: number, reason: string): InputError {
  return new InputError('invalid_argument', `policy line ${line}: ${reason}`);
}

/**
 * Parses a policy (c2sp.org/tlog-policy). Fields are separated by spaces and
 * tabs, `#` comment lines and blank lines are ignored, and every line ends in
 * LF. Errors are 'invalid_argument' and name the line and the rule broken.
 */
export function parsePolicy(text: string): Policy {
  if (text.length > MAX_POLICY_LENGTH) {
    throw new InputError('invalid_argument', `policy longer than ${MAX_POLICY_LENGTH} characters`);
  }
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') throw policyError(lines.length + 1, 'missing final newline');
  const state: State = {
    policy: { logs: [], witnesses: new Map(), groups: new Map() },
    logKeys: [],
    witnessKeys: [],
  };
  lines.forEach((line, i) => {
    try {
      parseLine(state, line);
    } catch (err) {
      throw err instanceof LineError ? policyError(i + 1, err.message) : err;
    }
  });
  const { quorum, ...rest } = state.policy;
  if (quorum === undefined) throw policyError(lines.length, 'no quorum line');
  return { ...rest, quorum };
}

/**
 * Reports whether the witnesses named in `cosigned` (policy names of witnesses
 * whose cosignatures verified) satisfy the policy's quorum.
 */
export function quorumSatisfied(policy: Policy, cosigned: Set<string>): boolean {
  const memo = new Map<string, boolean>();
  const witnessed = (name: string): boolean => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const group = policy.groups.get(name);
    const result = group
      ? group.members.filter(witnessed).length >= group.threshold
      : policy.witnesses.has(name) && cosigned.has(name);
    memo.set(name, result);
    return result;
  };
  return policy.quorum === 'none' || witnessed(policy.quorum);
}

function sameKey(sig: NoteSignature, v: Verifier): boolean {
  return sig.name === v.name && sig.keyId === v.keyId;
}

/** A checkpoint opened under a policy, with the policy names of its cosigners. */
export interface PolicyCheckpoint extends SignedCheckpoint {
  witnesses: string[];
}

/** Returns the policy's log verifiers for `origin`, raising if there is none. */
function logsFor(policy: Policy, origin: string): Verifier[] {
  const logs = policy.logs.map((l) => l.verifier).filter((v) => v.name === origin);
  if (logs.length === 0) {
    throw new VerificationError(
      'no_known_signature',
      `no log key in the policy for checkpoint origin ${JSON.stringify(origin)}`,
    );
  }
  return logs;
}

/** Checks that one of `logs` signed the note. */
function checkLogSignature(note: Note, logs: Verifier[], origin: string): void {
  if (note.sigs.some((s) => logs.some((v) => sameKey(s, v)))) return;
  throw new VerificationError(
    'no_known_signature',
    `checkpoint for origin ${JSON.stringify(origin)} has no signature by a policy log key ` +
      `(${logs.map(keyLabel).join(', ')})`,
  );
}

/** Checks that the witnesses named in `cosigned` satisfy the policy's quorum. */
function checkQuorum(policy: Policy, cosigned: string[]): void {
  if (quorumSatisfied(policy, new Set(cosigned))) return;
  throw new VerificationError(
    'quorum_not_met',
    `cosigned by [${cosigned.join(', ')}], which does not satisfy quorum ${policy.quorum}`,
  );
}

/**
 * Opens a signed checkpoint under a policy. A policy log key named like the
 * checkpoint origin must have signed it, or the call raises
 * 'no_known_signature'. Every known signature must verify, and the witnesses
 * whose cosignatures verified must satisfy the quorum, or the call raises
 * 'quorum_not_met'.
 */
export function openCheckpointWithPolicy(
  signed: string | Uint8Array,
  policy: Policy,
): PolicyCheckpoint {
  const origin = parseCheckpoint(parseNote(signed).text).origin;
  const logs = logsFor(policy, origin);
  const witnesses = [...policy.witnesses].map(([name, w]) => ({ name, verifier: w.verifier }));
  const note = openNote(signed, [...logs, ...witnesses.map((w) => w.verifier)]);
  checkLogSignature(note, logs, origin);
  const cosigned = witnesses
    .filter((w) => note.sigs.some((s) => sameKey(s, w.verifier)))
    .map((w) => w.name);
  checkQuorum(policy, cosigned);
  const text = typeof signed === 'string' ? signed : fromUtf8(signed, 'checkpoint');
  return { checkpoint: parseCheckpoint(note.text), note, signed: text, witnesses: cosigned };
}

/**
 * Verifies an offline proof (c2sp.org/tlog-proof) for `entry` under a policy.
 * The checkpoint opens as in openCheckpointWithPolicy, then SHA-256(0x00 ||
 * entry) must be at the proof's index in its tree (RFC 9162 section 2.1.3.2).
 */
export function verifyTlogProofWithPolicy(
  text: string,
  entry: Uint8Array,
  policy: Policy,
): PolicyCheckpoint & { index: number } {
  const proof = parseTlogProof(text);
  const opened = openCheckpointWithPolicy(proof.checkpoint, policy);
  const { size, root } = opened.checkpoint;
  verifyInclusion(leafHash(entry), proof.index, size, proof.proof, root);
  return { ...opened, index: proof.index };
}

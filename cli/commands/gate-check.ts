/**
 * declog gate-check: runs a fixed suite of cross-domain tokens against the
 * token gate of a trust configuration, before it is deployed.
 *
 * The configuration's relying-party rules (issuers, audiences, tenants, key
 * domain, algorithms) are kept. The keys of every key domain, inline JWKS
 * and jwks_uri alike, are replaced by throwaway keys generated for the run,
 * so the suite can sign tokens in the right and the wrong domain and
 * nothing is fetched.
 */
import {
  decodeJwt,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { toBase64 } from '../../src/encoding.js';
import { UsageError, VerificationError } from '../../src/errors.js';
import { createTokenGate, type TokenGate, type TrustConfig } from '../../src/token-gate.js';
import { out, outJson, readInput } from '../options.js';

export interface GateCheckOptions {
  config: string;
  rp?: string[];
  json?: boolean;
}

/** One row of the suite: what the gate must decide and what it decided. */
export interface GateCheckRow {
  rp: string;
  case: string;
  expected: 'accept' | 'reject' | 'skip';
  /** `accept ok`, `reject <reason>`, or why the case was skipped. */
  actual: string;
  pass: boolean;
}

/** Builds a gate from a configuration; the suite swaps in its own keys first. */
export type GateFactory = (config: TrustConfig, now: () => number) => TokenGate;

const SUPPORTED_ALGS = ['ES256', 'RS256', 'EdDSA'];
/** Key domain added when the configuration has a single one, to sign cross-domain tokens. */
const FOREIGN_DOMAIN = 'gate-check-foreign';
const OTHER_ISSUER = 'https://issuer.gate-check.invalid';
const OTHER_AUDIENCE = 'https://audience.gate-check.invalid';
const OTHER_TENANT = 'gate-check-foreign-tenant';

interface ThrowawayKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function throwawayKey(kid: string, alg: string): Promise<ThrowawayKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** Returns the algorithm of a domain's throwaway key: the first one its relying parties allow. */
function domainAlg(config: TrustConfig, domain: string): string {
  for (const rp of Object.values(config.relying_parties)) {
    if (rp.key_domain !== domain) continue;
    const alg = (rp.algorithms ?? SUPPORTED_ALGS).find((a) => SUPPORTED_ALGS.includes(a));
    if (alg) return alg;
  }
  return 'ES256';
}

/** Parses the configuration file; createTokenGate checks the rest of its shape. */
function readConfig(path: string): TrustConfig {
  const text = readInput(path, 'trust configuration').toString('utf8');
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`trust configuration ${path} is not valid JSON`, { cause });
  }
  const c = config as Partial<TrustConfig> | null;
  if (typeof c !== 'object' || c === null || !c.key_domains || !c.relying_parties) {
    throw new UsageError(
      `trust configuration ${path} needs the objects "key_domains" and "relying_parties"`,
    );
  }
  if (Object.keys(c.relying_parties).length === 0) {
    throw new UsageError(`trust configuration ${path} has no relying parties: nothing to check`);
  }
  return c as TrustConfig;
}

/** Generates a key per domain and returns the configuration with only those keys. */
async function withThrowawayKeys(config: TrustConfig) {
  const domains = Object.keys(config.key_domains);
  if (domains.length === 1) domains.push(FOREIGN_DOMAIN);
  const keys = new Map<string, ThrowawayKey>();
  for (const domain of domains) {
    keys.set(domain, await throwawayKey(`${domain}-gate-check`, domainAlg(config, domain)));
  }
  const keyDomains = Object.fromEntries(
    domains.map((d) => [d, { jwks: { keys: [keys.get(d)!.jwk] } }]),
  );
  return { config: { ...config, key_domains: keyDomains }, keys };
}

function base64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function jsonPart(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/** A token with claims that `rp` accepts, signed by `key` unless the claims are overridden. */
interface Minter {
  (key: ThrowawayKey, claims?: JWTPayload, lifetimeSeconds?: number): Promise<string>;
}

function minter(rpIssuer: string, rpAudience: string, tenant: string | undefined, now: number) {
  const mint: Minter = (key, claims = {}, lifetimeSeconds = 600) => {
    const base: JWTPayload = { iss: rpIssuer, aud: rpAudience, sub: 'gate-check-user' };
    if (tenant !== undefined) base['tid'] = tenant;
    const seconds = Math.floor(now / 1000);
    const payload: JWTPayload = {
      ...base,
      iat: seconds - 60,
      exp: seconds + lifetimeSeconds,
      ...claims,
    };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .sign(key.privateKey);
  };
  return mint;
}

/** Returns an unsigned token (RFC 7519 section 6) naming a known key ID. */
function algNone(kid: string, payload: JWTPayload): string {
  return `${jsonPart({ alg: 'none', kid, typ: 'JWT' })}.${jsonPart(payload)}.`;
}

/** Signs a token with HS256, using the PEM text of the domain's public key as the HMAC secret. */
async function algSwitched(key: ThrowawayKey, payload: JWTPayload): Promise<string> {
  const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
}

interface SuiteCase {
  name: string;
  expected: 'accept' | 'reject';
  /** Returns the token, or a string starting with `skip:` when the case does not apply. */
  token: () => Promise<string>;
}

/** Returns the fixed cases for one relying party. */
function suiteFor(
  config: TrustConfig,
  rpName: string,
  keys: Map<string, ThrowawayKey>,
  now: number,
): SuiteCase[] {
  const rp = config.relying_parties[rpName]!;
  const own = keys.get(rp.key_domain)!;
  const foreignName = [...keys.keys()].find((d) => d !== rp.key_domain)!;
  const foreign = keys.get(foreignName)!;
  const aud = rp.audiences[0]!;
  const mint = minter(rp.issuers[0]!, aud, rp.tenants?.[0], now);
  const claims = async () => decodeJwt(await mint(own));
  const noTenants = async () => 'skip: no tenants configured for this relying party';
  return [
    { name: 'valid token', expected: 'accept', token: () => mint(own) },
    {
      name: `${foreignName} key for audience ${aud}`,
      expected: 'reject',
      token: () => mint(foreign),
    },
    {
      name: 'wrong issuer, valid signature',
      expected: 'reject',
      token: () => mint(own, { iss: OTHER_ISSUER }),
    },
    { name: 'wrong audience', expected: 'reject', token: () => mint(own, { aud: OTHER_AUDIENCE }) },
    {
      name: 'missing tenant',
      expected: 'reject',
      token: rp.tenants ? () => mint(own, { tid: undefined, tenant: undefined }) : noTenants,
    },
    {
      name: 'foreign tenant',
      expected: 'reject',
      token: rp.tenants ? () => mint(own, { tid: OTHER_TENANT }) : noTenants,
    },
    {
      name: 'unknown kid',
      expected: 'reject',
      token: async () => mint(await throwawayKey('gate-check-unknown', own.alg)),
    },
    { name: 'alg none', expected: 'reject', token: async () => algNone(own.kid, await claims()) },
    {
      name: 'alg switched to HS256',
      expected: 'reject',
      token: async () => algSwitched(own, await claims()),
    },
    { name: 'expired', expected: 'reject', token: () => mint(own, {}, -3600) },
  ];
}

async function runCase(gate: TokenGate, rp: string, c: SuiteCase): Promise<GateCheckRow> {
  const token = await c.token();
  if (token.startsWith('skip:')) {
    return { rp, case: c.name, expected: 'skip', actual: token.slice(5).trim(), pass: true };
  }
  const { accepted, decision } = await gate.check(token, rp);
  const actual = `${decision.decision} ${decision.reason}`;
  return {
    rp,
    case: c.name,
    expected: c.expected,
    actual,
    pass: accepted === (c.expected === 'accept'),
  };
}

/**
 * Runs the suite against the gate `factory` builds from `config` with
 * throwaway keys, for the relying parties `rps` (default: all of them).
 */
export async function runGateSuite(
  config: TrustConfig,
  rps: string[] = Object.keys(config.relying_parties),
  factory: GateFactory = (c, now) => createTokenGate(c, { now }),
): Promise<GateCheckRow[]> {
  for (const rp of rps) {
    if (!config.relying_parties[rp])
      throw new UsageError(`relying party ${rp} is not in the trust configuration`);
  }
  const now = Date.now();
  const swapped = await withThrowawayKeys(config);
  const gate = factory(swapped.config, () => now);
  const rows: GateCheckRow[] = [];
  for (const rp of rps) {
    for (const c of suiteFor(swapped.config, rp, swapped.keys, now))
      rows.push(await runCase(gate, rp, c));
  }
  return rows;
}

function printTable(rows: GateCheckRow[]): void {
  const cells = rows.map((r) => [r.rp, r.case, r.expected, r.actual, r.pass ? 'ok' : 'FAIL']);
  const all = [['relying party', 'case', 'expected', 'actual', 'result'], ...cells];
  const widths = [0, 1, 2, 3].map((k) => Math.max(...all.map((row) => row[k]!.length)));
  for (const row of all) {
    out(row.map((cell, k) => (k < 4 ? cell.padEnd(widths[k]!) : cell)).join('  '));
  }
}

/** Describes the failed rows: tokens accepted that must be rejected, and valid ones rejected. */
function failureMessage(rows: GateCheckRow[]): string {
  const parts = rows
    .filter((r) => !r.pass)
    .map((r) =>
      r.expected === 'reject'
        ? `${r.rp}: accepted "${r.case}"`
        : `${r.rp}: rejected the valid token (${r.actual})`,
    );
  return `the gate does not fail closed: ${parts.join('; ')}`;
}

/** declog gate-check --config FILE [--rp NAME...] [--json] */
export async function gateCheck(opts: GateCheckOptions): Promise<void> {
  const config = readConfig(opts.config);
  let rows: GateCheckRow[];
  try {
    rows = await runGateSuite(config, opts.rp);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'invalid_argument') {
      throw new UsageError(err.message, { cause: err });
    }
    throw err;
  }
  if (opts.json) rows.forEach((r) => outJson(r));
  else printTable(rows);
  if (rows.some((r) => !r.pass))
    throw new VerificationError('gate_check_failed', failureMessage(rows));
}

/**
 * A fail-closed JWT gate. A token is accepted only when its signature
 * verifies with a key of a configured key domain, that domain is the one
 * allowed to sign for the relying party, and its issuer, audience, tenant
 * and validity period all match. A key's domain comes from the trust
 * configuration, never from the token. Every check, accept or reject,
 * yields the decision record to log.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
} from 'jose';
import type { DecisionInput } from './decision.js';
import { toHex, utf8 } from './encoding.js';
import { InputError } from './errors.js';
import { sha256 } from './hash.js';

/** Keys of one key domain: an inline JWKS or the URL it is fetched from. */
export interface KeyDomainConfig {
  jwks?: JSONWebKeySet;
  jwks_uri?: string;
}

/** The tokens a relying party accepts: issuers, audiences, key domain, tenants, algorithms. */
export interface RelyingPartyConfig {
  issuers: string[];
  audiences: string[];
  /** Key domain whose keys may sign tokens for this relying party. */
  key_domain: string;
  /** Allowed tenants (claim `tid` or `tenant`); when present a token must carry one of them. */
  tenants?: string[];
  /** Allowed signature algorithms (default RS256, ES256, EdDSA). */
  algorithms?: string[];
}

export interface TrustConfig {
  key_domains: Record<string, KeyDomainConfig>;
  relying_parties: Record<string, RelyingPartyConfig>;
}

export interface GateResult {
  accepted: boolean;
  /** The decision record to log, without the `validator` the ledger stamps. */
  decision: DecisionInput;
  /** Verified claims; absent when the signature did not verify. */
  claims?: JWTPayload;
}

export interface TokenGate {
  /** SHA-256 (hex) of the canonical trust configuration, logged with each decision. */
  readonly policyHash: string;
  check(token: string, rp: string): Promise<GateResult>;
}

export interface TokenGateOptions {
  /** Current time in ms (default Date.now). */
  now?: () => number;
  /** Clock skew tolerated on exp and nbf, in seconds (default 30). */
  clockToleranceSeconds?: number;
}

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

function compareKeys(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** Returns JSON with object keys sorted, so equal configurations hash equally. */
function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareKeys(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function checkConfig(config: TrustConfig): void {
  const fail = (why: string) =>
    new InputError('invalid_argument', `invalid trust configuration: ${why}`);
  if (!config || typeof config !== 'object') throw fail('expected an object');
  const domains = config.key_domains ?? {};
  for (const [name, d] of Object.entries(domains)) {
    if (!d.jwks === !d.jwks_uri)
      throw fail(`key domain ${name} needs exactly one of jwks and jwks_uri`);
  }
  for (const [name, rp] of Object.entries(config.relying_parties ?? {})) {
    if (!domains[rp.key_domain]) {
      throw fail(
        `relying party ${name} names key domain ${rp.key_domain}, which is not configured`,
      );
    }
    if (!rp.issuers?.length) throw fail(`relying party ${name} has no issuers`);
    if (!rp.audiences?.length) throw fail(`relying party ${name} has no audiences`);
  }
}

/** Builds a token gate from a trust configuration; JWKS URLs are fetched lazily and cached. */
export function createTokenGate(config: TrustConfig, options: TokenGateOptions = {}): TokenGate {
  checkConfig(config);
  const now = options.now ?? Date.now;
  const tolerance = options.clockToleranceSeconds ?? 30;
  const keySets = new Map<string, JWTVerifyGetKey>();
  for (const [name, d] of Object.entries(config.key_domains)) {
    keySets.set(
      name,
      d.jwks ? createLocalJWKSet(d.jwks) : createRemoteJWKSet(new URL(d.jwks_uri!)),
    );
  }
  const policyHash = toHex(sha256(utf8(canonicalJSON(config))));

  /** Returns the key domains whose key sets hold the token's key (kid and alg). */
  async function domainsOf(header: ProtectedHeaderParameters): Promise<string[]> {
    const owners: string[] = [];
    for (const [name, getKey] of keySets) {
      try {
        await getKey(
          header as Parameters<JWTVerifyGetKey>[0],
          { payload: '', signature: '' } as never,
        );
        owners.push(name);
      } catch (err) {
        if (!(
          err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys
        )) {
          throw err;
        }
      }
    }
    return owners;
  }

  async function check(token: string, rpName: string): Promise<GateResult> {
    const rp = config.relying_parties[rpName];
    if (!rp) throw new InputError('invalid_argument', `unknown relying party ${rpName}`);
    let header: ProtectedHeaderParameters = {};
    let unverified: JWTPayload = {};
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      // Left empty: the decision below records "malformed".
    }
    const tenantOf = (p: JWTPayload) => {
      const t = p.tid ?? p.tenant;
      return typeof t === 'string' && t !== '' ? t : undefined;
    };
    const record = (reason: string, keyDomain: string, claims?: JWTPayload): GateResult => {
      const source = claims ?? unverified;
      const iss = typeof source.iss === 'string' && source.iss !== '' ? source.iss : 'unknown';
      const decision: DecisionInput = {
        id: crypto.randomUUID(),
        time: now(),
        decision: reason === 'ok' ? 'accept' : 'reject',
        reason,
        iss: iss.slice(0, 1024),
        aud: rp.audiences[0]!,
        key_domain: keyDomain,
        kid:
          typeof header.kid === 'string' && header.kid !== '' ? header.kid.slice(0, 1024) : 'none',
        rp: rpName,
        policy: policyHash,
        token_hash: sha256(utf8(token)),
      };
      if (typeof header.alg === 'string' && header.alg !== '')
        decision.alg = header.alg.slice(0, 64);
      const tenant = tenantOf(source);
      if (tenant) decision.tenant = tenant.slice(0, 1024);
      return { accepted: reason === 'ok', decision, ...(claims ? { claims } : {}) };
    };

    const algorithms = rp.algorithms ?? DEFAULT_ALGORITHMS;
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg) || !header.kid) {
      return record('malformed', 'unknown');
    }
    const owners = await domainsOf(header);
    if (owners.length !== 1) return record('unknown_kid', 'unknown');
    const keyDomain = owners[0]!;

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keySets.get(keyDomain)!, {
        algorithms,
        currentDate: new Date(now()),
        clockTolerance: tolerance,
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return record('expired', keyDomain);
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') {
        return record('not_yet_valid', keyDomain);
      }
      if (err instanceof errors.JWSSignatureVerificationFailed)
        return record('bad_signature', keyDomain);
      return record('malformed', keyDomain);
    }

    // Signature validity is necessary, never sufficient: every binding is checked.
    if (keyDomain !== rp.key_domain) return record('key_domain_mismatch', keyDomain, claims);
    if (typeof claims.iss !== 'string' || !rp.issuers.includes(claims.iss)) {
      return record('issuer_not_allowed', keyDomain, claims);
    }
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    if (!audiences.some((a) => rp.audiences.includes(a))) {
      return record('audience_mismatch', keyDomain, claims);
    }
    if (rp.tenants) {
      const tenant = tenantOf(claims);
      if (!tenant || !rp.tenants.includes(tenant))
        return record('tenant_mismatch', keyDomain, claims);
    }
    if (claims.exp === undefined) return record('malformed', keyDomain, claims);
    return record('ok', keyDomain, claims);
  }

  return { policyHash, check };
}

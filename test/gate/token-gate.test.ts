import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { decisionFromJSON, encodeDecision } from '../../src/decision.js';
import { createTokenGate, type TrustConfig } from '../../src/token-gate.js';

const NOW = 1_750_000_000_000;
const ENTERPRISE_ISS = 'https://login.enterprise.example';
const CONSUMER_ISS = 'https://login.consumer.example';
const MAIL = 'https://mail.example.org';

interface Issuer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function issuer(kid: string): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

let consumer: Issuer;
let enterprise: Issuer;
let stranger: Issuer;
let config: TrustConfig;

beforeAll(async () => {
  consumer = await issuer('consumer-1');
  enterprise = await issuer('enterprise-1');
  stranger = await issuer('stranger-1');
  config = {
    key_domains: {
      consumer: { jwks: { keys: [consumer.jwk] } },
      enterprise: { jwks: { keys: [enterprise.jwk] } },
    },
    relying_parties: {
      mail: {
        issuers: [ENTERPRISE_ISS],
        audiences: [MAIL],
        key_domain: 'enterprise',
        tenants: ['contoso'],
      },
    },
  };
});

async function mint(
  signer: Issuer,
  claims: Record<string, unknown>,
  options: { kid?: string; expSeconds?: number } = {},
): Promise<string> {
  return new SignJWT({ tid: 'contoso', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? signer.kid })
    .setIssuer((claims.iss as string) ?? ENTERPRISE_ISS)
    .setAudience((claims.aud as string) ?? MAIL)
    .setIssuedAt(NOW / 1000 - 60)
    .setExpirationTime(NOW / 1000 + (options.expSeconds ?? 600))
    .sign(signer.privateKey);
}

describe('token gate', () => {
  it('accepts an enterprise token for mail', async () => {
    const gate = createTokenGate(config, { now: () => NOW });
    const result = await gate.check(await mint(enterprise, {}), 'mail');
    expect(result.accepted).toBe(true);
    expect(result.decision).toMatchObject({
      decision: 'accept',
      reason: 'ok',
      iss: ENTERPRISE_ISS,
      aud: MAIL,
      key_domain: 'enterprise',
      kid: 'enterprise-1',
      alg: 'ES256',
      tenant: 'contoso',
      rp: 'mail',
      policy: gate.policyHash,
    });
    expect(result.decision.token_hash).toHaveLength(32);
    // The record is a valid decision the ledger accepts.
    expect(encodeDecision({ ...decisionFromJSON(jsonOf(result.decision), 'v') })).toBeInstanceOf(
      Uint8Array,
    );
  });

  const cases: [string, () => Promise<string>, string][] = [
    ['consumer key for enterprise audience', () => mint(consumer, {}), 'key_domain_mismatch'],
    ['wrong issuer', () => mint(enterprise, { iss: CONSUMER_ISS }), 'issuer_not_allowed'],
    [
      'wrong audience',
      () => mint(enterprise, { aud: 'https://other.example' }),
      'audience_mismatch',
    ],
    ['foreign tenant', () => mint(enterprise, { tid: 'fabrikam' }), 'tenant_mismatch'],
    ['unknown kid', () => mint(stranger, {}), 'unknown_kid'],
    ['expired', () => mint(enterprise, {}, { expSeconds: -3600 }), 'expired'],
    [
      'signature by another key',
      () => mint(stranger, {}, { kid: 'enterprise-1' }),
      'bad_signature',
    ],
    ['garbage', async () => 'not.a.jwt', 'malformed'],
    [
      'alg none',
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${enc({ alg: 'none', kid: 'enterprise-1' })}.${enc({ iss: ENTERPRISE_ISS, aud: MAIL })}.`;
      },
      'malformed',
    ],
  ];
  for (const [name, make, reason] of cases) {
    it(`rejects ${name}`, async () => {
      const gate = createTokenGate(config, { now: () => NOW });
      const result = await gate.check(await make(), 'mail');
      expect(result.accepted).toBe(false);
      expect(result.decision.decision).toBe('reject');
      expect(result.decision.reason).toBe(reason);
      expect(() => decisionFromJSON(jsonOf(result.decision), 'v')).not.toThrow();
    });
  }

  it('rejects a relying party naming an unknown key domain', () => {
    const bad = {
      ...config,
      relying_parties: { x: { ...config.relying_parties.mail!, key_domain: 'nope' } },
    };
    expect(() => createTokenGate(bad)).toThrow(/key domain nope/);
  });

  it('changes the policy hash with the configuration', () => {
    const a = createTokenGate(config).policyHash;
    const b = createTokenGate({
      ...config,
      relying_parties: { mail: { ...config.relying_parties.mail!, tenants: ['other'] } },
    }).policyHash;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
});

/** Returns the JSON body form of a gate decision (token_hash as hex). */
function jsonOf(d: Record<string, unknown>): Record<string, unknown> {
  const out = { ...d };
  if (d.token_hash instanceof Uint8Array)
    out.token_hash = Buffer.from(d.token_hash).toString('hex');
  return out;
}

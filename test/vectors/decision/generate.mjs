// Regenerates reject-*.json. Each is minimal.json with one byte-level
// mutation that decodeDecision must reject, and the error code it must raise.
// The mutations edit the hand-derived rows of minimal.json; no CBOR encoder
// is involved. Run: node test/vectors/decision/generate.mjs
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const minimal = JSON.parse(readFileSync(join(dir, 'minimal.json'), 'utf8'));
const base = minimal.derivation.map((row) => row[0]);

/** Returns the index of the row with this hex. The rows of minimal.json are distinct. */
function at(rows, hex) {
  const i = rows.indexOf(hex);
  if (i < 0) throw new Error(`row ${hex} not found`);
  return i;
}

function replace(hex, by) {
  return (rows) => rows.with(at(rows, hex), by);
}

function insertAfter(hex, ...added) {
  return (rows) => rows.toSpliced(at(rows, hex) + 1, 0, ...added);
}

function remove(...hexes) {
  return (rows) => rows.filter((r) => !hexes.includes(r));
}

function steps(...fns) {
  return (rows) => fns.reduce((acc, fn) => fn(acc), rows);
}

const MAP_11 = 'ab';
const KEY_V = '6176';
const ONE = '01';
const KEY_ID = '626964';
const ID_D1 = '626431';
const KEY_RP = '627270';
const RP_MAIL = '646d61696c';
const ISS_VALUE = '781a68747470733a2f2f6c6f67696e2e6578616d706c652e636f6d2f';
const KID_K1 = '626b31';
const KEY_KID = '636b6964';
const TIME_VALUE = '1b0000018bcfe56800';
const REJECT = '6672656a656374';
const KEY_VALIDATOR = '6976616c696461746f72';
const VALIDATOR_VALUE = '6772702d6d61696c';
const CONSUMER = '68636f6e73756d6572';

const cases = [
  {
    name: 'keys-out-of-order',
    description: 'the "rp" pair placed before the "id" pair ("id" < "rp" bytewise)',
    mutate: (rows) => {
      const i = at(rows, KEY_ID);
      const j = at(rows, KEY_RP);
      return rows
        .with(i, KEY_RP)
        .with(i + 1, RP_MAIL)
        .with(j, KEY_ID)
        .with(j + 1, ID_D1);
    },
    error: 'non_canonical',
  },
  {
    name: 'non-shortest-uint',
    description: 'v = 1 written as 0x18 0x01 instead of 0x01',
    mutate: replace(ONE, '1801'),
    error: 'non_canonical',
  },
  {
    name: 'non-shortest-uint64',
    description: 'v = 1 written as 0x1b and eight bytes',
    mutate: replace(ONE, '1b0000000000000001'),
    error: 'non_canonical',
  },
  {
    name: 'non-shortest-map-header',
    description: 'map count 11 written as 0xb9 0x00 0x0b instead of 0xab',
    mutate: replace(MAP_11, 'b9000b'),
    error: 'non_canonical',
  },
  {
    name: 'non-shortest-text-length',
    description: 'key "v" with its length as 0x78 0x01 instead of 0x61',
    mutate: replace(KEY_V, '780176'),
    error: 'non_canonical',
  },
  {
    name: 'indefinite-map',
    description: 'map header 0xbf (indefinite length) and a break 0xff at the end',
    mutate: steps(replace(MAP_11, 'bf'), (rows) => [...rows, 'ff']),
    error: 'non_canonical',
  },
  {
    name: 'indefinite-text',
    description: 'rp value "mail" as an indefinite-length text 0x7f, one chunk, break 0xff',
    mutate: replace(RP_MAIL, `7f${RP_MAIL}ff`),
    error: 'non_canonical',
  },
  {
    name: 'float64-time',
    description: 'time 1700000000000 as a float64 0xfb 0x4278bcfe56800000 (its exact value)',
    mutate: replace(TIME_VALUE, 'fb4278bcfe56800000'),
    error: 'non_canonical',
  },
  {
    name: 'float16-version',
    description: 'v = 1 as a float16 0xf9 0x3c00 (1.0)',
    mutate: replace(ONE, 'f93c00'),
    error: 'non_canonical',
  },
  {
    name: 'bignum-time',
    description: 'time as tag 2 (0xc2) over the 6-byte string 0x018bcfe56800',
    mutate: replace(TIME_VALUE, 'c246018bcfe56800'),
    error: 'non_canonical',
  },
  {
    name: 'duplicate-key',
    description: 'a second "kid" pair with value "k2" after the first (map count 12)',
    mutate: steps(replace(MAP_11, 'ac'), insertAfter(KID_K1, KEY_KID, '626b32')),
    error: 'non_canonical',
  },
  {
    name: 'duplicate-key-same-value',
    description: 'the "kid": "k1" pair written twice (map count 12)',
    mutate: steps(replace(MAP_11, 'ac'), insertAfter(KID_K1, KEY_KID, KID_K1)),
    error: 'non_canonical',
  },
  {
    name: 'unknown-key',
    description: 'an extra pair "zz": 1 in its sorted place after "rp" (map count 12)',
    mutate: steps(replace(MAP_11, 'ac'), insertAfter(RP_MAIL, '627a7a', ONE)),
    error: 'invalid_decision',
  },
  {
    name: 'tag-on-text',
    description: 'iss value under tag 32 (URI), 0xd8 0x20',
    mutate: replace(ISS_VALUE, `d820${ISS_VALUE}`),
    error: 'non_canonical',
  },
  {
    name: 'self-described-tag',
    description: 'the whole map under tag 55799 (self-described CBOR), 0xd9 0xd9 0xf7',
    mutate: (rows) => ['d9d9f7', ...rows],
    error: 'non_canonical',
  },
  {
    name: 'simple-value',
    description: 'v as simple value 16 (0xf0), which no schema field takes',
    mutate: replace(ONE, 'f0'),
    error: 'non_canonical',
  },
  {
    name: 'two-byte-simple-value',
    description: 'v as 0xf8 0x20, a simple value in the two-byte form',
    mutate: replace(ONE, 'f820'),
    error: 'non_canonical',
  },
  {
    name: 'reserved-initial-byte',
    description: 'v as 0x1c, additional information 28, which RFC 8949 section 3 reserves',
    mutate: replace(ONE, '1c'),
    error: 'malformed_cbor',
  },
  {
    name: 'string-past-end',
    description: 'the "consumer" header claiming 2^32-1 bytes (0x7a 0xffffffff)',
    mutate: replace(CONSUMER, `7affffffff${CONSUMER.slice(2)}`),
    error: 'malformed_cbor',
  },
  {
    name: 'trailing-byte',
    description: 'one 0x00 after the map',
    mutate: (rows) => [...rows, '00'],
    error: 'malformed_cbor',
  },
  {
    name: 'truncated',
    description: 'the last byte of "consumer" removed',
    mutate: replace(CONSUMER, CONSUMER.slice(0, -2)),
    error: 'malformed_cbor',
  },
  {
    name: 'key-as-bytes',
    description: 'key "v" as a byte string 0x41 0x76 instead of text 0x61 0x76',
    mutate: replace(KEY_V, '4176'),
    error: 'invalid_decision',
  },
  {
    name: 'null-optional',
    description: 'an "alg": null pair (0xf6) after "rp" (map count 12), where absent means omitted',
    mutate: steps(replace(MAP_11, 'ac'), insertAfter(RP_MAIL, '63616c67', 'f6')),
    error: 'invalid_decision',
  },
  {
    name: 'undefined-optional',
    description: 'an "alg": undefined pair (0xf7) after "rp" (map count 12)',
    mutate: steps(replace(MAP_11, 'ac'), insertAfter(RP_MAIL, '63616c67', 'f7')),
    error: 'invalid_decision',
  },
  {
    name: 'invalid-utf8',
    description: 'rp value "mai" then 0xff, which is not UTF-8',
    mutate: replace(RP_MAIL, '646d6169ff'),
    error: 'invalid_decision',
  },
  {
    name: 'negative-time',
    description:
      'time -1700000000000: major type 1, 0x3b, argument 1699999999999 = 0x0000018bcfe567ff',
    mutate: replace(TIME_VALUE, '3b0000018bcfe567ff'),
    error: 'invalid_decision',
  },
  {
    name: 'version-2',
    description: 'v = 2',
    mutate: replace(ONE, '02'),
    error: 'invalid_decision',
  },
  {
    name: 'missing-validator',
    description: 'the "validator" pair removed (map count 10)',
    mutate: steps(replace(MAP_11, 'aa'), remove(KEY_VALIDATOR, VALIDATOR_VALUE)),
    error: 'invalid_decision',
  },
  {
    name: 'accept-with-reason',
    description: 'decision "accept" with reason "key_domain_mismatch", but accept requires "ok"',
    mutate: replace(REJECT, '66616363657074'),
    error: 'invalid_decision',
  },
  {
    name: 'not-a-map',
    description: 'an array of one uint, 0x81 0x01',
    mutate: () => ['8101'],
    error: 'invalid_decision',
  },
  {
    name: 'empty',
    description: 'no bytes at all',
    mutate: () => [],
    error: 'malformed_cbor',
  },
];

for (const file of readdirSync(dir)) {
  if (file.startsWith('reject-')) rmSync(join(dir, file));
}
for (const c of cases) {
  const vector = {
    description: `minimal.json with ${c.description}`,
    source: 'generate.mjs, from the rows of minimal.json',
    hex: c.mutate(base).join(''),
    error: c.error,
  };
  writeFileSync(join(dir, `reject-${c.name}.json`), JSON.stringify(vector, null, 2) + '\n');
}

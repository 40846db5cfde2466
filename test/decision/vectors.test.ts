import { describe, expect, it } from 'vitest';
import {
  decodeDecision,
  decisionToJSON,
  encodeDecision,
  submittedFromCBORValue,
  submittedFromJSON,
} from '../../src/decision.js';
import { fromHex, toHex } from '../../src/encoding.js';
import {
  type RecordVector,
  type RejectVector,
  expectInputError,
  loadVector,
  vectorDecision,
  vectorFiles,
} from './fixtures.js';

const RECORDS = ['minimal.json', 'full.json', 'utf8-uint32.json'];

describe('decision vectors', () => {
  for (const file of RECORDS) {
    const v = loadVector<RecordVector>(file);

    it(`${file}: rows add up to hex`, () => {
      expect(v.derivation.map(([hex]) => hex).join('')).toBe(v.hex);
    });

    it(`${file}: exact bytes`, () => {
      expect(toHex(encodeDecision(vectorDecision(v)))).toBe(v.hex);
    });

    it(`${file}: submitted entry`, () => {
      const { validator, ...body } = v.decision;
      const submitted = submittedFromJSON(body, validator as string);
      expect(toHex(submitted.entry)).toBe(v.hex);
      expect(submitted.decision).toEqual(vectorDecision(v));
      const cborBody = { ...body, token_hash: submitted.decision.token_hash };
      if (cborBody.token_hash === undefined) delete cborBody.token_hash;
      const fromCBOR = submittedFromCBORValue(cborBody, validator as string);
      expect(toHex(fromCBOR.entry)).toBe(v.hex);
    });

    it(`${file}: decodes`, () => {
      const d = decodeDecision(fromHex(v.hex));
      expect(decisionToJSON(d)).toEqual(v.decision);
      expect(d).toEqual(vectorDecision(v));
    });
  }

  const rejects = vectorFiles('reject-');

  it('reject vectors exist', () => {
    expect(rejects.length).toBeGreaterThanOrEqual(20);
  });

  for (const file of rejects) {
    const v = loadVector<RejectVector>(file);
    it(`${file}: ${v.error}`, () => {
      expectInputError(() => decodeDecision(fromHex(v.hex)), v.error);
    });
  }
});

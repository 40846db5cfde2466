/** Request templates: validation, and text that matches the workload's decisions. */
import { describe, expect, it } from 'vitest';
import {
  type RequestTemplate,
  renderParts,
  validateTemplate,
} from '../../bench/request-template.js';
import { batchBody, batchParts, decisionJSON, decisionParts } from '../../bench/workload.js';

describe('request templates', () => {
  const prefixes = ['append-1', 'quote" backslash\\ tab\t é ]]'];

  it('decision parts match decisionJSON', () => {
    const numbers = [...Array.from({ length: 200 }, (_, i) => i), 2 ** 40 + 3, 2 ** 45];
    for (const prefix of prefixes) {
      for (const n of numbers) {
        expect(renderParts(decisionParts(prefix), n)).toBe(JSON.stringify(decisionJSON(prefix, n)));
      }
    }
  });

  it('batch parts match batchBody', () => {
    for (const n of [0, 1, 7, 1000]) {
      expect(renderParts(batchParts('b', 100), n)).toBe(batchBody('b', n * 100, 100));
    }
  });

  it('validation rejects unsafe templates', () => {
    const base: RequestTemplate = { method: 'GET', path: ['/x'] };
    const invalid: [string, RequestTemplate][] = [
      ['CR LF in a header value', { ...base, headers: { a: 'b\r\nx-injected: 1' } }],
      ['space in a header name', { ...base, headers: { 'a b': 'c' } }],
      ['a header the generator sets', { ...base, headers: { 'Content-Length': '3' } }],
      ['space in the path', { ...base, path: ['/a b'] }],
      ['newline in a path pick', { ...base, path: ['/', { pick: ['a\n'], by: { of: 'n' } }] }],
      ['a path without a slash', { ...base, path: ['x'] }],
      ['a negative add', { ...base, path: ['/', { integer: { of: 'n', add: -1 } }] }],
      ['a zero mod', { ...base, path: ['/', { integer: { of: 'n', mod: 0 } }] }],
      ['a zero random bound', { ...base, path: ['/', { integer: { of: 'random', below: 0 } }] }],
    ];
    for (const [why, template] of invalid) {
      expect(() => validateTemplate(template), why).toThrow();
    }
    expect(() => validateTemplate({ ...base, body: ['any\r\n"text\u0000'] })).not.toThrow();
  });
});

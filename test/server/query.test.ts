import { describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../server/query.js';

describe('parseRfc3339', () => {
  it('rfc3339: UTC, offsets and fractions', () => {
    expect(parseRfc3339('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseRfc3339('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(parseRfc3339('2023-11-14t22:13:20.5z')).toBe(1_700_000_000_500);
    expect(parseRfc3339('2023-11-14T22:13:20.123999Z')).toBe(1_700_000_000_123);
    expect(parseRfc3339('2023-11-15T00:13:20+02:00')).toBe(1_700_000_000_000);
    expect(parseRfc3339('2023-11-14T20:43:20-01:30')).toBe(1_700_000_000_000);
  });

  it('rfc3339: calendar limits', () => {
    expect(parseRfc3339('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseRfc3339('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2023-04-31T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2023-13-01T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2023-01-01T24:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2023-01-01T00:60:00Z')).toBeUndefined();
    expect(parseRfc3339('2023-01-01T00:00:00+24:00')).toBeUndefined();
  });

  it('rfc3339: leap second is next second', () => {
    expect(parseRfc3339('2016-12-31T23:59:60Z')).toBe(Date.UTC(2017, 0, 1));
  });

  it('rfc3339: other spellings are rejected', () => {
    for (const text of [
      '2023-11-14',
      '2023-11-14T22:13:20',
      '2023-11-14 22:13:20Z',
      '2023-11-14T22:13Z',
      '2023-11-14T22:13:20.Z',
      '2023-11-14T22:13:20+0200',
      '0099-01-01T00:00:00Z',
      ' 2023-11-14T22:13:20Z',
    ]) {
      expect(parseRfc3339(text), text).toBeUndefined();
    }
  });
});

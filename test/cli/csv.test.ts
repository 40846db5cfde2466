import { describe, expect, it } from 'vitest';
import { csvLine } from '../../cli/commands/search.js';

describe('search CSV', () => {
  it('quotes separators and quotes', () => {
    expect(csvLine(['a', 'b,c', 'say "hi"'])).toBe('a,"b,c","say ""hi"""');
  });

  it('defuses spreadsheet formulas', () => {
    expect(csvLine(['=HYPERLINK("http://x","y")'])).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvLine(['@SUM(1)', '+1', '-1', 'plain'])).toBe("'@SUM(1),'+1,'-1,plain");
  });
});

import { describe, it } from 'vitest';
import { STORE_FACTORIES } from './factories.js';
import { storeSuite } from './store-suite.js';

describe.each(STORE_FACTORIES)('$kind store', (factory) => {
  if (!factory.enabled) {
    it.skip('needs DECLOG_TEST_PG (see test/support/start-postgres.sh)');
    return;
  }
  storeSuite(factory);
});

/** declog token add: creates a validator and prints its bearer token, once. */
import { openStoreAt } from '../../src/data-dir.js';
import { addValidator } from '../../src/ledger.js';
import { note, out, outJson, storeUrl, TOKEN_SHOWN_ONCE, usage } from '../options.js';

export interface TokenAddOptions {
  data: string;
  /** PostgreSQL URL of the log (default: DECLOG_STORE, else SQLite in `data`). */
  store?: string;
  json?: boolean;
}

/** declog token add NAME [--data DIR] [--store URL] [--json] */
export async function tokenAdd(name: string, opts: TokenAddOptions): Promise<void> {
  const store = await usage(() => openStoreAt(opts.data, storeUrl(opts.store)));
  let token: string;
  try {
    token = await usage(() => addValidator(store, name));
  } finally {
    await store.close();
  }
  if (opts.json) {
    outJson({ validator: name, token });
  } else {
    out(`token  ${token}  (validator ${name})`);
  }
  note(TOKEN_SHOWN_ONCE);
}

/**
 * A minimal server process for the benchmarks, used when the CLI is not
 * built: serves a data folder on 127.0.0.1 at a free port, logs JSON lines
 * to stdout like `declog serve`, and stops on SIGINT or SIGTERM.
 *
 * Run: node dist/bench/serve-child.js DATA_DIR
 */
import { pino } from 'pino';
import { startServer } from '../server/main.js';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  console.error('usage: node dist/bench/serve-child.js DATA_DIR');
  process.exit(2);
}
const logger = pino({ base: undefined });
const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, logger });
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/**
 * The Node HTTP server that runs the app, with its keep-alive timing, and
 * its graceful stop: stop accepting connections, let the requests in flight
 * finish, close keep-alive connections as they go idle, and drop whatever
 * is left after a timeout.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Server } from 'node:http';
import type { AppEnv } from './env.js';

/** How long an idle keep-alive connection stays open, in ms. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Returns a server, not yet listening, that handles requests with the app. */
export function newHttpServer(app: Hono<AppEnv>): Server {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // Idle keep-alive connections outlive the clients' own idle timeouts (4 s for
  // Node's fetch), so a client never sends on a connection the server is closing.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000;
  return server;
}

/** How long drain waits for in-flight requests before dropping their connections. */
const DRAIN_TIMEOUT_MS = 10_000;
/** How often drain closes connections that have become idle. */
const DRAIN_POLL_MS = 50;

/** Stops accepting connections and resolves once every connection is closed. */
export function drain(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => server.closeIdleConnections(), DRAIN_POLL_MS);
    const timeout = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearInterval(poll);
      clearTimeout(timeout);
      resolve();
    });
    server.closeIdleConnections();
  });
}

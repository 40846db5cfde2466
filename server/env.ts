/** The per-request context shared by the middleware and the routes of the HTTP server. */
import type { RequestIdVariables } from 'hono/request-id';

export interface AppEnv {
  Variables: RequestIdVariables & {
    /** The authenticated validator, set by bearerAuth on write routes. */
    validator: string;
  };
}

/** The per-request context shared by the middleware and the routes of the HTTP server. */

export interface AppEnv {
  Variables: {
    /** The request's id, set by the requestId middleware and sent as X-Request-Id. */
    requestId: string;
    /** The authenticated validator, set by bearerAuth on write routes. */
    validator: string;
  };
}

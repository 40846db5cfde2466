/**
 * Reads a request body with a size limit. Under @hono/node-server the body
 * is read straight from Node's IncomingMessage, which skips building a web
 * Request and its stream for every append; elsewhere it falls back to Hono.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { InputError } from '../src/errors.js';

function tooLarge(maxBytes: number): InputError {
  return new InputError('body_too_large', `request body is larger than ${maxBytes} bytes`);
}

function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        incoming.removeAllListeners('data');
        incoming.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    incoming.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.length));
    });
    incoming.on('error', reject);
  });
}

/** Returns the request body, rejecting with 'body_too_large' past `maxBytes`. */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const declared = Number(c.req.header('Content-Length') ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (incoming && !incoming.readableDidRead && !incoming.readableEnded) {
    return readIncoming(incoming, maxBytes);
  }
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.length > maxBytes) throw tooLarge(maxBytes);
  return body;
}

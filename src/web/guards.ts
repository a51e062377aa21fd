// Request guards in front of every route: bounded URL, header count and body size, and body parsers
// that accept only the one content type a route takes. Hostile input gets a short fixed answer.
import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';

/** Longest URL a route needs is ~50 characters; anything near this is not a browser using the page. */
export const MAX_URL_LENGTH = 2048;
/** Browsers send ~20 headers and proxies add a few; the HTTP server keeps one more so we can tell. */
export const MAX_HEADERS = 100;
/** The largest legitimate body is the login form (one password). */
export const MAX_BODY_BYTES = 4096;

/** Fixed answers: an error's own message may carry a file path or echo the attacker's input. */
const ERRORS: Record<number, { error: string; message: string }> = {
  400: { error: 'bad_request', message: 'malformed request' },
  403: { error: 'forbidden', message: 'forbidden' },
  404: { error: 'not_found', message: 'not found' },
  413: { error: 'too_large', message: 'request body too large' },
  414: { error: 'uri_too_long', message: 'URL too long' },
  415: { error: 'unsupported_media_type', message: 'unsupported content type or encoding' },
  431: { error: 'headers_too_large', message: 'too many or too large headers' },
  500: { error: 'internal', message: 'internal error' },
};

export function sendError(res: Response, status: number): void {
  const body = ERRORS[status] ?? ERRORS[status < 500 ? 400 : 500]!;
  res.status(status).set('Cache-Control', 'no-store').json(body);
}

/** Cheap checks before any session or file work; a declared oversize body is refused without reading it. */
export function requestLimits(req: Request, res: Response, next: NextFunction): void {
  if (req.originalUrl.length > MAX_URL_LENGTH) return sendError(res, 414);
  if (req.rawHeaders.length / 2 > MAX_HEADERS) return sendError(res, 431);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    // Close instead of draining a body the client may keep sending for as long as it likes.
    res.set('Connection', 'close');
    return sendError(res, 413);
  }
  next();
}

/** True when the request carries body bytes (a POST without a body often says Content-Length: 0). */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A body, if any, must be of `type`; anything else is 415 before a byte of it is parsed. */
function onlyType(type: string): RequestHandler {
  return (req, res, next) => (!hasBody(req) || req.is(type) ? next() : sendError(res, 415));
}

/** Malformed percent-encoding is refused rather than half-decoded into a different password. */
function wellEncoded(_req: unknown, _res: unknown, buf: Buffer): void {
  try {
    decodeURIComponent(buf.toString('utf8').replace(/\+/g, ' '));
  } catch {
    throw Object.assign(new Error('malformed form encoding'), { status: 400 });
  }
}

/** A small urlencoded form (login, logout). No compressed bodies: a zip bomb costs nothing to send. */
export function formBody(limit: number, parameterLimit: number): RequestHandler[] {
  return [onlyType('application/x-www-form-urlencoded'), express.urlencoded({ extended: false, limit, parameterLimit, inflate: false, verify: wellEncoded })];
}

/** API POSTs take no parameters: no body, or a small JSON object that must at least parse. */
export function jsonBody(limit: number): RequestHandler[] {
  return [onlyType('application/json'), express.json({ limit, inflate: false })];
}

export function notFound(_req: Request, res: Response): void {
  sendError(res, 404);
}

/** The last handler: fixed wording per status, never a stack or a path; only 5xx are logged as errors. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'web request failed');
    else logger.debug({ status, type: err?.type, method: req.method, path: req.path }, 'web request refused');
    if (res.headersSent) return res.end();
    sendError(res, status);
  };
}

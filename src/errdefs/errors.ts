// Errors by what went wrong, not by how a protocol reports it (as moby's errdefs). Backends
// throw these with Docker's wording; the server alone decides which HTTP status each kind
// gets (src/server/http-status.ts).

export type ErrorKind =
  | 'invalid-parameter'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'not-implemented'
  | 'cancelled'
  | 'system'
  | 'unknown';

export class EngineError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    super(message);
  }
}

export const badParameter = (message: string) => new EngineError('invalid-parameter', message);
export const notFound = (message: string) => new EngineError('not-found', message);
export const conflict = (message: string) => new EngineError('conflict', message);
export const serverError = (message: string) => new EngineError('system', message);
export const notModified = () => new EngineError('not-modified', '');
export const unauthorized = (message: string) => new EngineError('unauthorized', message);
export const forbidden = (message: string) => new EngineError('forbidden', message);
export const unavailable = (message: string) => new EngineError('unavailable', message);
export const notImplemented = (message: string) => new EngineError('not-implemented', message);
export const cancelled = (message: string) => new EngineError('cancelled', message);

export const noSuchContainer = (ref: string) => notFound(`No such container: ${ref}`);

export const isEngineError = (error: unknown): error is EngineError => error instanceof EngineError;
/** The kind of any thrown value; anything not raised through these helpers is 'unknown'. */
export const kindOf = (error: unknown): ErrorKind => (error instanceof EngineError ? error.kind : 'unknown');

export const isInvalidParameter = (error: unknown) => kindOf(error) === 'invalid-parameter';
export const isNotFound = (error: unknown) => kindOf(error) === 'not-found';
export const isConflict = (error: unknown) => kindOf(error) === 'conflict';
export const isNotModified = (error: unknown) => kindOf(error) === 'not-modified';
export const isUnauthorized = (error: unknown) => kindOf(error) === 'unauthorized';
export const isForbidden = (error: unknown) => kindOf(error) === 'forbidden';
export const isUnavailable = (error: unknown) => kindOf(error) === 'unavailable';
export const isNotImplemented = (error: unknown) => kindOf(error) === 'not-implemented';
export const isCancelled = (error: unknown) => kindOf(error) === 'cancelled';
export const isSystem = (error: unknown) => kindOf(error) === 'system';

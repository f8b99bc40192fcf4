// The one place where an error's kind becomes an HTTP status (as moby's httpstatus).
import { kindOf, type ErrorKind } from '../errdefs/errors.js';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  'not-modified': 304,
  'invalid-parameter': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  cancelled: 499,
  system: 500,
  unknown: 500,
  'not-implemented': 501,
  unavailable: 503,
};

/** An error only the HTTP layer can have: a path served, but not for this method. */
export class MethodNotAllowed extends Error {
  readonly status = 405;
  constructor() {
    super('method not allowed');
  }
}

export function statusOf(error: unknown): number {
  if (error instanceof MethodNotAllowed) return error.status;
  return STATUS_BY_KIND[kindOf(error)];
}

// Errors that carry Docker's HTTP status. Backends throw these; the router turns them into
// `{"message": ...}` with the status, exactly as Docker words them.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const badParameter = (message: string) => new ApiError(400, message);
export const notFound = (message: string) => new ApiError(404, message);
export const conflict = (message: string) => new ApiError(409, message);
export const serverError = (message: string) => new ApiError(500, message);
export const notModified = () => new ApiError(304, '');

export const noSuchContainer = (ref: string) => notFound(`No such container: ${ref}`);
export const noSuchImage = (ref: string) => notFound(`No such image: ${ref}`);

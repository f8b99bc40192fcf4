// The error that ends a command with an exit status; a module of its own so that what needs only
// it (the context store, read at every start) does not load output.ts's templates and tables.

/** Ends the command with this exit status; `message` (if any) goes to stderr. */
export class StatusError extends Error {
  override name = 'StatusError';
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

/** A problem found while converting run/create flags (docker's parse()): reported as "berth: <msg>" with exit 125. */
export class CreateOptionsError extends Error {
  override name = 'CreateOptionsError';
}

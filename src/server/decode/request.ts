// The one way routes read a JSON request body: the bytes, decoded and checked as Docker does.
import { readBody, type RequestContext } from '../server.js';
import { decodeBody, type BodyName } from './decode.js';

export async function readRequestBody<T>(context: RequestContext, name: BodyName): Promise<T> {
  return decodeBody<T>(name, await readBody(context.request));
}

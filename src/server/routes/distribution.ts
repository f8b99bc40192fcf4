// Registry routes besides pull and push: POST /auth (check credentials against a registry, as
// docker login asks) and GET /images/search. Thin: decode, call the registry service, encode.
import type { AuthConfig } from '../../wire/types.js';
import { decodeRegistryAuth, normalizeAuthConfig } from '../../distribution/auth.js';
import type { RegistryService } from '../../distribution/search.js';
import { badParameter } from '../../errdefs/errors.js';
import { filtersParam, sendJson, type RouteTable } from '../server.js';
import { readRequestBody } from '../decode/request.js';

/** login and search. */
export type RegistryBackend = Pick<RegistryService, 'login' | 'search'>;

export function distributionRoutes(registries: RegistryBackend): RouteTable {
  return [
    ['POST', /^\/auth$/, async (context) => {
      const config: AuthConfig = normalizeAuthConfig(await readRequestBody<unknown>(context, 'auth'));
      sendJson(context, 200, await registries.login(config));
    }],
    ['GET', /^\/images\/search$/, async (context) => {
      const limitText = context.query.get('limit');
      let limit: number | undefined;
      if (limitText !== null && limitText !== '') {
        limit = Number(limitText);
        if (!/^[+-]?\d+$/.test(limitText)) throw badParameter(`invalid limit specified: strconv.Atoi: parsing "${limitText}": invalid syntax`);
      }
      const results = await registries.search({
        term: context.query.get('term') ?? '', limit, filters: filtersParam(context.query),
        // A search needs no credentials; an undecodable header counts as none, as in Docker.
        auth: decodeRegistryAuth(context.request.headers['x-registry-auth']),
      });
      sendJson(context, 200, results);
    }],
  ];
}

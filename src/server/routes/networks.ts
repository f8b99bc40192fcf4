// /networks: list, inspect, create, remove, prune, connect and disconnect. The network service
// owns the records; connect and disconnect change a container's record too, so the backend
// composes the two services (daemon/routes.ts).
import type { Filters } from '../../util/filters.js';
import { readRequestBody } from '../decode/request.js';
import { boolParam, filtersParam, sendJson, sendNoContent, type RouteTable } from '../server.js';

export interface NetworkCreateRequest {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface EndpointConfigRequest {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  Links?: string[] | null;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
}

export interface NetworkBackend {
  list(filters: Filters): unknown[];
  /** `scope`: a network of another scope (swarm, global) is not found, as Docker answers. */
  inspect(reference: string, scope: string | undefined): unknown;
  create(request: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  remove(reference: string): Promise<void>;
  prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }>;
  connect(network: string, container: string, config: EndpointConfigRequest): Promise<void>;
  disconnect(network: string, container: string, force: boolean): Promise<void>;
}

export function networkRoutes(networks: NetworkBackend): RouteTable {
  return [
    ['GET', /^\/networks\/?$/, (context) => {
      sendJson(context, 200, networks.list(filtersParam(context.query)));
    }],
    ['POST', /^\/networks\/create$/, async (context) => {
      const request = await readRequestBody<NetworkCreateRequest>(context, 'networkCreate');
      sendJson(context, 201, await networks.create(request ?? {}));
    }],
    ['POST', /^\/networks\/prune$/, async (context) => {
      sendJson(context, 200, await networks.prune(filtersParam(context.query)));
    }],
    ['GET', /^\/networks\/([^/]+)$/, (context) => {
      sendJson(context, 200, networks.inspect(context.params[0], context.query.get('scope') || undefined));
    }],
    ['DELETE', /^\/networks\/([^/]+)$/, async (context) => {
      await networks.remove(context.params[0]);
      sendNoContent(context);
    }],
    ['POST', /^\/networks\/([^/]+)\/connect$/, async (context) => {
      const body = await readRequestBody<{ Container?: string; EndpointConfig?: EndpointConfigRequest | null }>(context, 'networkConnect');
      await networks.connect(context.params[0], body?.Container ?? '', body?.EndpointConfig ?? {});
      sendNoContent(context, 200);
    }],
    ['POST', /^\/networks\/([^/]+)\/disconnect$/, async (context) => {
      const body = await readRequestBody<{ Container?: string; Force?: boolean }>(context, 'networkDisconnect');
      await networks.disconnect(context.params[0], body?.Container ?? '', !!body?.Force || boolParam(context.query, 'force'));
      sendNoContent(context, 200);
    }],
  ];
}

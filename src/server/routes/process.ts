// /containers/{id}/pause|unpause|top|stats|update: thin routes over process control and the
// stats service (decode, call, encode).
import type { ContainerUpdateRequest } from '../../wire/types.js';
import type { ProcessControl } from '../../containers/process-control.js';
import type { StatsService } from '../../containers/stats.js';
import { badParameter } from '../../errdefs/errors.js';
import { boolParam, compareVersions, sendJson, sendNoContent, sendText, startStream, type RequestContext, type RouteTable } from '../server.js';
import { readRequestBody } from '../decode/request.js';

const ID = '([^/]+)';

/** moby's httputils.BoolValueOrDefault: absent or empty takes the default; "0", "no", "false", "none" are false. */
/** pause, unpause, top and update. */
export type ProcessBackend = Pick<ProcessControl, 'pause' | 'unpause' | 'top' | 'update'>;
/** stats, one frame or a stream. */
export type StatsBackend = Pick<StatsService, 'single' | 'subscribe'>;

export function processRoutes(control: ProcessBackend, stats: StatsBackend): RouteTable {
  return [
    ['POST', new RegExp(`^/containers/${ID}/pause$`), async (context) => {
      await control.pause(context.params[0]);
      sendNoContent(context);
    }],
    ['POST', new RegExp(`^/containers/${ID}/unpause$`), async (context) => {
      await control.unpause(context.params[0]);
      sendNoContent(context);
    }],
    ['GET', new RegExp(`^/containers/${ID}/top$`), async (context) => {
      sendJson(context, 200, await control.top(context.params[0], context.query.get('ps_args') ?? undefined));
    }],
    ['POST', new RegExp(`^/containers/${ID}/update$`), async (context) => {
      const request = await readRequestBody<ContainerUpdateRequest>(context, 'containerUpdate');
      sendJson(context, 200, await control.update(context.params[0], request));
    }],
    ['GET', new RegExp(`^/containers/${ID}/stats$`), (context) => containerStats(stats, context)],
  ];
}

async function containerStats(stats: StatsBackend, context: RequestContext): Promise<void> {
  const stream = boolParam(context.query, 'stream', true);
  const oneShot = compareVersions(context.version, '1.41') >= 0 && boolParam(context.query, 'one-shot', false);
  if (stream && oneShot) throw badParameter('cannot have stream=true and one-shot=true');
  const reference = context.params[0];
  if (!stream) {
    const frame = await stats.single(reference, oneShot, context.signal);
    if (!context.signal.aborted) sendText(context, 200, frame.text, 'application/json');
    return;
  }
  await new Promise<void>((resolve, reject) => {
    let response: ReturnType<typeof startStream> | undefined;
    let unsubscribe: (() => void) | undefined;
    const end = () => {
      unsubscribe?.();
      context.signal.removeEventListener('abort', end);
      if (response && !response.writableEnded) response.end();
      resolve();
    };
    try {
      // Subscribing resolves the container first, so that a bad name gets its 404 before the 200.
      unsubscribe = stats.subscribe(reference, (frame) => {
        // A client that does not keep up misses samples instead of piling them up here.
        if (response && !response.writableNeedDrain) response.write(frame.text);
      }, end);
    } catch (error) {
      reject(error);
      return;
    }
    response = startStream(context, 'application/json');
    context.signal.addEventListener('abort', end, { once: true });
  });
}

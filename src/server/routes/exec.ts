// /containers/{id}/exec and /exec/*: thin routes over the exec service. As in Docker, a start
// with a client hijacks the connection first; what goes wrong after that (already started, the
// command cannot run) is written into the stream, not answered with an HTTP status.
import type { ExecCreateRequest, ExecStartRequest } from '../../wire/types.js';
import type { ExecService } from '../../containers/exec.js';
import { badParameter, isEngineError } from '../../errdefs/errors.js';
import { encodeFrame, STDOUT } from '../../wire/stdcopy.js';
import { runAttachSession } from '../attach-session.js';
import { compareVersions, readUpgradeBody, sendJson, sendNoContent, type RequestContext, type RouteTable } from '../server.js';
import { decodeBody } from '../decode/decode.js';
import { readRequestBody } from '../decode/request.js';

const ID = '([^/]+)';

/** exec create, start (detached or attached), resize and inspect. */
export type ExecBackend = Pick<ExecService, 'create' | 'assertUsable' | 'start' | 'startAttached' | 'resize' | 'inspect'>;

export function execRoutes(execs: ExecBackend): RouteTable {
  return [
    ['POST', new RegExp(`^/containers/${ID}/exec$`), async (context) => {
      const request = await readRequestBody<ExecCreateRequest>(context, 'execCreate');
      if (!request.Cmd || request.Cmd.length === 0) throw badParameter('No exec command specified');
      if (compareVersions(context.version, '1.42') < 0) request.ConsoleSize = null;
      sendJson(context, 201, await execs.create(context.params[0], request));
    }],
    ['POST', new RegExp(`^/exec/${ID}/start$`), (context) => startExec(execs, context)],
    ['POST', new RegExp(`^/exec/${ID}/resize$`), async (context) => {
      await execs.resize(context.params[0], sizeParam(context.query, 'h', 'height'), sizeParam(context.query, 'w', 'width'));
      sendNoContent(context, 200);
    }],
    ['GET', new RegExp(`^/exec/${ID}/json$`), (context) => sendJson(context, 200, execs.inspect(context.params[0]))],
  ];
}

async function startExec(execs: ExecBackend, context: RequestContext): Promise<void> {
  const id = context.params[0];
  const request = await readStartRequest(context);
  execs.assertUsable(id);
  const tty = !!request.Tty;
  // The console size of the start request counts only with a TTY, and from API 1.42.
  const consoleSize = tty && compareVersions(context.version, '1.42') >= 0 ? request.ConsoleSize ?? null : null;
  if (request.Detach) {
    await execs.start(id, { consoleSize });
    sendNoContent(context, 200);
    return;
  }
  const multiplexed = !tty && compareVersions(context.version, '1.42') >= 0 && !!context.upgradedSocket;
  const connection = context.hijack(multiplexed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream');
  try {
    const attachment = await execs.startAttached(id, { consoleSize });
    let ending: 'detached' | 'ended' | 'failed' = 'failed';
    try {
      const session = runAttachSession({
        connection, tty: attachment.tty, multiplex: !tty, closeStdinOnEof: true, detachKeys: attachment.detachKeys,
        output: attachment.output, stdin: attachment.stdin, signal: context.signal,
      });
      // The body of an upgraded request was read from the connection, which leaves it paused:
      // the session's input listener is in place once `stdin` settles.
      if (attachment.stdin) void attachment.stdin.then(() => connection.resume());
      ending = await session;
    } finally {
      attachment.finish(ending);
    }
  } catch (error) {
    if (!isEngineError(error)) process.stderr.write(`berthd: exec ${id}: ${error instanceof Error ? error.stack : String(error)}\n`);
    const text = `${error instanceof Error ? error.message : String(error)}\r\n`;
    connection.end(tty ? text : encodeFrame(STDOUT, text));
  }
}

/** The start request's JSON: on an upgraded connection the body arrives on the raw socket. */
async function readStartRequest(context: RequestContext): Promise<ExecStartRequest> {
  if (!context.upgradedSocket) return readRequestBody<ExecStartRequest>(context, 'execStart');
  const body = await readUpgradeBody(context);
  if (body.length === 0) return {};
  return decodeBody<ExecStartRequest>('execStart', body);
}

function sizeParam(query: URLSearchParams, name: string, what: string): number {
  const text = query.get(name) ?? '';
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) {
    throw badParameter(`invalid resize ${what} "${text}": strconv.ParseUint: parsing "${text}": invalid syntax`);
  }
  return Number(text);
}

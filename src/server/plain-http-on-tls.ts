// A client that speaks plain HTTP to a TLS port gets Go's answer, as from dockerd, instead of a
// closed connection: the docker CLI turns it into "Client sent an HTTP request to an HTTPS
// server." and a hint about --tls, and curl shows it.
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

/** What Go's net/http writes before closing such a connection. */
export const PLAIN_HTTP_ANSWER = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** Go's test (net/http, tlsRecordHeaderLooksLikeHTTP): the 5 bytes where a TLS record header would be. */
export function looksLikeHttp(start: Buffer): boolean {
  if (start.length < 5) return false;
  return ['GET /', 'HEAD ', 'POST ', 'PUT /', 'OPTIO'].includes(start.subarray(0, 5).toString('latin1'));
}

/**
 * Puts a look at each connection's first bytes in front of the TLS server's own connection
 * handler: plain HTTP is answered and closed; anything else (a handshake, garbage, a reset)
 * goes to TLS with the bytes put back, which TLS reads first.
 */
export function answerPlainHttp(server: HttpsServer): void {
  const tlsHandlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    // As long as TLS's own handshake timeout (tls.Server's default) for a peer that sends nothing.
    socket.setTimeout(120_000, () => socket.destroy());
    const toTls = () => { for (const handler of tlsHandlers) handler.call(server, socket); };
    const onReadable = () => {
      const start = socket.read() as Buffer | null;
      if (start === null) return;
      socket.off('readable', onReadable).off('end', onEnd).setTimeout(0);
      if (looksLikeHttp(start)) {
        socket.end(PLAIN_HTTP_ANSWER);
        return;
      }
      socket.unshift(start);
      toTls();
    };
    const onEnd = () => socket.destroy();
    socket.on('readable', onReadable).once('end', onEnd);
  });
}

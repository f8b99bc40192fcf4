// Waiting on a stream's backpressure without waiting forever.

interface StreamEvents {
  once(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * Resolves once the stream can take more data (`drain`), or has closed or failed (its failure
 * is reported where it is written), or `signal` aborts.
 */
export function drained(stream: StreamEvents & { destroyed?: boolean }, signal?: AbortSignal): Promise<void> {
  if (stream.destroyed || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

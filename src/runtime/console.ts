// The terminal of a container (or exec session) that conmon holds: conmon reads resize
// requests from the `ctl` FIFO in the bundle directory it was given, as lines of
// "<event> <height> <width>", event 1 being a window resize.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

const RESIZE_EVENT = 1;

/** Asks conmon to set the terminal's size. Fails with ENXIO when no conmon reads the FIFO. */
export async function resizeTerminal(bundleDir: string, height: number, width: number): Promise<void> {
  // Non-blocking: a FIFO nobody reads must not hang the request.
  const fifo = await open(join(bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fifo.write(`${RESIZE_EVENT} ${height} ${width}\n`);
  } finally {
    await fifo.close();
  }
}

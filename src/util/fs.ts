// Reading files a user (or an attacker who can write the repo) points gonogo at. A FIFO, a device
// or a directory must never be read: reading a FIFO with no writer blocks a libuv worker thread for
// ever, and the process could then never exit.
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** A file that exists but is not one gonogo will read (a FIFO, a device, a directory) or is too large. */
export class FileRefusedError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'FileRefusedError';
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Reads to the end, refusing once past `maxBytes`: the file may grow after its size was looked at. */
async function readAtMost(handle: FileHandle, maxBytes: number, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { bytesRead, buffer } = await handle.read({ buffer: Buffer.allocUnsafe(64 * 1024) });
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    total += bytesRead;
    if (total > maxBytes) throw new FileRefusedError(`${path} is over the limit of ${maxBytes} bytes: not read`, path);
    chunks.push(buffer.subarray(0, bytesRead));
  }
}

/**
 * Reads a regular file's bytes. The path is looked at before it is opened, since opening a device can
 * act on it (a watchdog arms, a tape rewinds) and a FIFO must never be waited on; then it is opened
 * non-blocking and checked again on the descriptor, so a file swapped in between is refused too.
 * Anything but a regular file, or a file over `maxBytes`, is refused with a FileRefusedError. A
 * missing file rejects with the usual ENOENT error.
 */
export async function readRegularFile(path: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const before = await stat(path);
  if (!before.isFile()) throw new FileRefusedError(`${path} is ${kindOf(before)}, not a regular file: not read`, path);
  if (before.size > maxBytes) throw new FileRefusedError(`${path} is ${before.size} bytes, over the limit of ${maxBytes} bytes: not read`, path);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FileRefusedError(`${path} is ${kindOf(st)}, not a regular file: not read`, path);
    if (st.ino !== before.ino || st.dev !== before.dev) throw new FileRefusedError(`${path} was replaced while being opened: not read`, path);
    if (st.size > maxBytes) throw new FileRefusedError(`${path} is ${st.size} bytes, over the limit of ${maxBytes} bytes: not read`, path);
    return await readAtMost(handle, maxBytes, path);
  } finally {
    await handle.close();
  }
}

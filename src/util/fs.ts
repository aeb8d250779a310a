// Reading files a user (or an attacker who can write the repo) points gonogo at. A FIFO, a device
// or a directory must never be read: reading a FIFO with no writer blocks a libuv worker thread for
// ever, and the process could then never exit.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

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

/**
 * Reads a regular file's bytes. The file is opened non-blocking and checked on the open descriptor
 * (no window between the check and the read); anything but a regular file, or a file over
 * `maxBytes`, is refused with a FileRefusedError. A missing file rejects with the usual ENOENT error.
 */
export async function readRegularFile(path: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FileRefusedError(`${path} is ${kindOf(st)}, not a regular file: not read`, path);
    if (st.size > maxBytes) throw new FileRefusedError(`${path} is ${st.size} bytes, over the limit of ${maxBytes} bytes: not read`, path);
    const buf = await handle.readFile();
    // The file may have grown between stat and read.
    if (buf.length > maxBytes) throw new FileRefusedError(`${path} is over the limit of ${maxBytes} bytes: not read`, path);
    return buf;
  } finally {
    await handle.close();
  }
}

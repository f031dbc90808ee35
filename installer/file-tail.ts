import { open } from 'node:fs/promises';
import { SerialQueue } from '../common/serial-queue.js';

/**
 * Reads a growing text file by byte position, handing out only whole lines: a line written
 * in two pieces, or a multi-byte character cut by a read, comes out once and intact. Reads
 * run one at a time, so overlapping callers (fs.watch fires in bursts) never see a line twice.
 * A file that shrank was rotated: reading starts over from its beginning.
 */
export class FileTail {
  private offset = 0;
  private partial = Buffer.alloc(0);
  private readonly queue = new SerialQueue();

  constructor(private readonly file: string) {}

  /** The whole lines added since the last call (all of them, the first time). */
  read(): Promise<string[]> {
    return this.queue.run(() => this.readNow());
  }

  private async readNow(): Promise<string[]> {
    const handle = await open(this.file, 'r').catch(() => undefined);
    if (!handle) return [];
    try {
      const { size } = await handle.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.partial = Buffer.alloc(0);
      }
      if (size === this.offset) return [];
      const chunk = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      this.offset += bytesRead;
      const data = Buffer.concat([this.partial, chunk.subarray(0, bytesRead)]);
      const end = data.lastIndexOf(0x0a);
      if (end < 0) {
        this.partial = data;
        return [];
      }
      this.partial = Buffer.from(data.subarray(end + 1));
      return data.subarray(0, end).toString('utf8').split('\n').filter(Boolean);
    } finally {
      await handle.close();
    }
  }
}

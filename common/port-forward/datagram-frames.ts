/**
 * Datagrams carried over a byte stream (the forwarder socket): each is a 2-byte big-endian
 * length and the payload. A UDP payload is at most 65,507 bytes, so 16 bits always suffice.
 */
export function frameDatagram(payload: Buffer): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(payload.length);
  return Buffer.concat([head, payload]);
}

/** Splits a stream's chunks back into the datagrams, however the chunks were cut. */
export class DatagramReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onDatagram: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 2) {
      const size = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + size) break;
      this.onDatagram(this.pending.subarray(2, 2 + size));
      this.pending = this.pending.subarray(2 + size);
    }
  }
}

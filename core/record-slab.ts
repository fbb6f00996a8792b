/**
 * Records carved from shared zeroed chunks. A typed array with a buffer of its own costs an
 * ArrayBuffer allocation per record, which dominates a twin that emits a short record
 * every cycle; views into one 64 KiB chunk cost a fraction of that. A record is handed out
 * once, so its bytes start at zero; a chunk lives as long as any record cut from it.
 */
export class RecordSlab {
  private chunk: ArrayBuffer;
  private used = 0;

  constructor(private readonly chunkBytes = 64 * 1024) {
    this.chunk = new ArrayBuffer(chunkBytes);
  }

  take(bytes: number): Uint8Array {
    if (bytes > this.chunkBytes) return new Uint8Array(bytes);
    if (this.used + bytes > this.chunkBytes) {
      this.chunk = new ArrayBuffer(this.chunkBytes);
      this.used = 0;
    }
    const r = new Uint8Array(this.chunk, this.used, bytes);
    this.used += bytes;
    return r;
  }
}

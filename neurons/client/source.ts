/**
 * What a put reads from. A put hashes its bytes before it sends them (the Epistula signature
 * covers sha256(body) and travels in the headers), so a source must be readable twice with the
 * same bytes: a file on disk or bytes in memory. A stream that can be read once (stdin) is
 * spooled to a temporary file first (the CLI does; see cli.ts).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { CHUNK_BYTES } from "../../protocol/content-id.js";

/** Bytes a put can read more than once, identically each time. */
export interface PutSource {
  /** A fresh read of every byte from the start. */
  open(): AsyncIterable<Uint8Array>;
  /** Bytes it holds, when known up front (for progress only; the put counts what it reads). */
  size(): Promise<number | undefined>;
}

/**
 * A file on disk as a put source. The file must not change while the put runs; if it does, the
 * put fails with SourceChangedError rather than store something else than it hashed.
 *
 * @example await client.put(fileSource("photo.jpg"))
 */
export function fileSource(path: string): PutSource {
  return {
    // Opened on the first read, so a read never started holds no file handle.
    async *open() {
      yield* createReadStream(path, { highWaterMark: CHUNK_BYTES });
    },
    size: async () => (await stat(path)).size,
  };
}

/**
 * Bytes in memory as a put source.
 *
 * @example await client.put(bytesSource(new TextEncoder().encode("hello")))
 */
export function bytesSource(bytes: Uint8Array): PutSource {
  return {
    async *open() {
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
    },
    size: async () => bytes.length,
  };
}

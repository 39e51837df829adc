/**
 * The `Range` request header (RFC 9110 §14.2), one range per request: `bytes=a-b`, `bytes=a-`
 * and the suffix form `bytes=-n`. A range in another unit is ignored (the whole file is served),
 * as the RFC asks. Everything else that is not one satisfiable byte range is refused with 416
 * (`Content-Range: bytes * /size`): a malformed `bytes=` value, a range past the end, and several
 * ranges at once. The RFC lets a server ignore a multi-range request and serve the whole file
 * instead, but for a 10 GiB file that turns a request for a few blocks into the whole download,
 * so we refuse it and let the client ask for its ranges one by one.
 */

/** What to serve for a request: the whole file, one range of it, or nothing (416). */
export type RangeDecision =
  | { kind: "whole" }
  | { kind: "partial"; offset: number; length: number }
  | { kind: "unsatisfiable"; reason: string };

const RANGE_PATTERN = /^(\d*)\s*-\s*(\d*)$/;

/**
 * Decides what a `Range` header asks of a file of `size` bytes.
 *
 * @example parseByteRange("bytes=-100", 1000) // { kind: "partial", offset: 900, length: 100 }
 */
export function parseByteRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: "whole" };
  const text = header.trim();
  const equals = text.indexOf("=");
  if (equals < 0) return unsatisfiable("a Range header must be bytes=first-last");
  if (text.slice(0, equals).trim().toLowerCase() !== "bytes") return { kind: "whole" };
  const spec = text.slice(equals + 1).trim();
  if (spec.includes(",")) return unsatisfiable("one range per request; ask for each range separately");
  const match = RANGE_PATTERN.exec(spec);
  if (match === null) return unsatisfiable(`${spec} is not a byte range (first-last, first- or -suffix)`);
  const [, firstText = "", lastText = ""] = match;
  if (firstText === "" && lastText === "") return unsatisfiable("a byte range needs a first or a last byte");
  if (firstText === "") {
    const suffix = Number(lastText);
    if (!Number.isSafeInteger(suffix)) return unsatisfiable("the suffix length is too large");
    if (suffix === 0 || size === 0) return unsatisfiable("the suffix range selects no bytes");
    const length = Math.min(suffix, size);
    return { kind: "partial", offset: size - length, length };
  }
  const first = Number(firstText);
  if (!Number.isSafeInteger(first)) return unsatisfiable("the first byte is too large");
  if (first >= size) return unsatisfiable(`the range starts at ${first}, past the end of ${size} bytes`);
  if (lastText === "") return { kind: "partial", offset: first, length: size - first };
  const last = Number(lastText);
  if (!Number.isSafeInteger(last)) return unsatisfiable("the last byte is too large");
  if (last < first) return unsatisfiable(`the range ends (${last}) before it starts (${first})`);
  return { kind: "partial", offset: first, length: Math.min(last, size - 1) - first + 1 };
}

function unsatisfiable(reason: string): RangeDecision {
  return { kind: "unsatisfiable", reason };
}

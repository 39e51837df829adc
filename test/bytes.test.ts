import { describe, expect, it } from "vitest";
import { bytesEqual } from "../protocol/bytes.js";

describe("bytesEqual", () => {
  it("compares length and every byte, views by their own range", () => {
    const a = Uint8Array.of(1, 2, 3, 4);
    expect(bytesEqual(a, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(bytesEqual(a, Uint8Array.of(1, 2, 3))).toBe(false);
    expect(bytesEqual(a, Uint8Array.of(1, 2, 3, 5))).toBe(false);
    expect(bytesEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(bytesEqual(a.subarray(1, 3), Buffer.from([2, 3]))).toBe(true);
  });
});

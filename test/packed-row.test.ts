import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodePackedRow, encodePackedRow } from "../chain/devchain/pallets/subtensor/packed-row.js";
import { SPARSE_ROW } from "../chain/devchain/pallets/subtensor/types.js";
import { decode, encode, ScaleError } from "../chain/devchain/scale.js";
import { unpackRow } from "../chain/yuma/epoch.js";

const u16 = fc.integer({ min: 0, max: 65535 });

describe("packed weights and bonds rows", () => {
  it("encode exactly as the generic codec does, and decode back", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(u16, u16), { maxLength: 300 }), (pairs) => {
        const row = {
          uids: Uint16Array.from(pairs, (p) => p[0]),
          values: Uint16Array.from(pairs, (p) => p[1]),
        };
        const bytes = encodePackedRow(row);
        expect(bytes).toEqual(encode(SPARSE_ROW, pairs));
        expect(unpackRow(decodePackedRow(bytes))).toEqual(pairs);
        expect(decode(SPARSE_ROW, bytes)).toEqual(pairs);
      }),
    );
  });

  it("refuses a row whose length does not match its bytes, and entries that do not fit u16", () => {
    const bytes = encode(SPARSE_ROW, [[1, 2]]);
    expect(() => decodePackedRow(bytes.subarray(0, bytes.length - 1))).toThrow(ScaleError);
    expect(() => encodePackedRow({ uids: [70000], values: [1] })).toThrow(ScaleError);
    expect(() => encodePackedRow({ uids: [1, 2], values: [1] })).toThrow(ScaleError);
  });
});

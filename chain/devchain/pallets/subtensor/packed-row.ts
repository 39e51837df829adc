/**
 * Weights and bonds rows (`Vec<(u16, u16)>`, {@link SPARSE_ROW}) straight between their SCALE
 * bytes and the packed form the Yuma epoch reads and returns, so an epoch over a full subnet does
 * not build and decode tens of thousands of `[uid, value]` pairs.
 */

import type { PackedRow } from "../../../yuma/epoch.js";
import { Reader, ScaleError, Writer } from "../../scale.js";

/**
 * Reads a stored `Vec<(u16, u16)>` row into parallel arrays. A {@link StorageView}, so the chain
 * can cache the result per stored row.
 *
 * @example decodePackedRow(encode(SPARSE_ROW, [[3, 65535]])) // { uids: [3], values: [65535] }
 */
export function decodePackedRow(raw: Uint8Array): PackedRow {
  const r = new Reader(raw);
  const len = r.compactNumber();
  if (r.remaining !== len * 4) throw new ScaleError(`a row of ${len} pairs cannot take ${r.remaining} bytes`);
  const uids = new Uint16Array(len);
  const values = new Uint16Array(len);
  for (let i = 0; i < len; i++) {
    uids[i] = r.smallUint(2);
    values[i] = r.smallUint(2);
  }
  return { uids, values };
}

/** The SCALE bytes of a packed row as a `Vec<(u16, u16)>`: exactly `encode(SPARSE_ROW, pairs)`. */
export function encodePackedRow(row: PackedRow): Uint8Array {
  const len = row.uids.length;
  if (row.values.length !== len) throw new ScaleError("a packed row needs as many values as uids");
  const w = new Writer();
  w.compact(len);
  w.reserve(len * 4);
  for (let i = 0; i < len; i++) {
    if (!w.fixed(2, row.uids[i]) || !w.fixed(2, row.values[i]))
      throw new ScaleError(`row entry ${i} does not fit (u16, u16)`);
  }
  return w.finish();
}

import { ErasureError } from "./erasure-errors.js";

/**
 * Reed-Solomon erasure coding over GF(2^8): k data shards and m parity shards, any k of the k + m
 * rebuild the rest. Pure TypeScript, chosen over the native and WASM packages after measuring
 * them side by side (figures in README.md, "Benchmarks"): the native addon (@ronomon/reed-solomon)
 * is ~13× faster but caps k at 24 and m at 6, is asynchronous only, needs a compiler at install,
 * and writes its own bit-matrix layout, so stored pieces would be readable by that addon alone;
 * the WASM build is ~1.4× faster but a single-release fork that loads a file at start. This one
 * takes any k + m ≤ 255, and one core encodes faster than a 1 Gbit/s link delivers.
 *
 * The generator matrix is systematic, [I; C] with C a Cauchy matrix (C[i][j] = 1 / (x_i + y_j),
 * x_i = k + i, y_j = j): every square submatrix of a Cauchy matrix is invertible, so any k rows
 * of [I; C] are, which is what makes any k shards enough. Multiplication is table-driven (one
 * 256-byte row of products per coefficient) and runs four bytes per step over aligned words.
 */

/** GF(2^8) elements address at most 255 distinct evaluation points, so k + m ≤ 255. */
export const MAX_TOTAL_SHARDS = 255;

/** The primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), as in most RS codecs; 2 generates. */
const PRIMITIVE_POLYNOMIAL = 0x11d;

/**
 * Bytes of each shard processed per pass over the coefficient matrix: the outputs' blocks stay in
 * L1/L2 while every input adds into them, instead of streaming each 1 MiB output once per input.
 */
const BLOCK_BYTES = 16 * 1024;

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= PRIMITIVE_POLYNOMIAL;
  }
  // Doubled so EXP[LOG[a] + LOG[b]] needs no modulo.
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255] as number;
}

/** MUL[c * 256 + x] = c · x: the row for c is the lookup table of "multiply by c". */
const MUL = new Uint8Array(256 * 256);
for (let c = 1; c < 256; c++) {
  for (let x = 1; x < 256; x++) MUL[c * 256 + x] = EXP[(LOG[c] as number) + (LOG[x] as number)] as number;
}

function gfMul(a: number, b: number): number {
  return MUL[a * 256 + b] as number;
}

function gfInverse(a: number): number {
  return EXP[255 - (LOG[a] as number)] as number;
}

export interface ErasureCoderOptions {
  /** k: shards of data in a stripe, ≥ 1. */
  dataShards: number;
  /** m: parity shards, ≥ 0; any m of the k + m shards may be lost. */
  parityShards: number;
}

export interface ErasureCoder {
  readonly dataShards: number;
  readonly parityShards: number;
  /** The m parity shards of k equal-size data shards (fresh arrays; the inputs are not touched). */
  encode(shards: readonly Uint8Array[]): Uint8Array[];
  /**
   * Rebuilds the missing (undefined) shards of a k + m list from any k present ones, returned by
   * index in ascending order. `only` limits the work to some of the missing indices (e.g. the data
   * shards of a read). Throws ErasureError "too-many-missing" when fewer than k are present.
   */
  reconstruct(shards: readonly (Uint8Array | undefined)[], only?: readonly number[]): Map<number, Uint8Array>;
}

/**
 * Builds a coder for k data and m parity shards. The coder is stateless past its matrix and safe
 * to share.
 *
 * @example
 * const coder = createErasureCoder({ dataShards: 10, parityShards: 4 });
 * const parity = coder.encode(data); // 4 shards
 * const rebuilt = coder.reconstruct([undefined, ...data.slice(1), ...parity]); // Map { 0 => data[0] }
 */
export function createErasureCoder(options: ErasureCoderOptions): ErasureCoder {
  const k = options.dataShards;
  const m = options.parityShards;
  if (!Number.isInteger(k) || k < 1)
    throw new ErasureError("invalid-params", "dataShards must be an integer ≥ 1", { details: String(k) });
  if (!Number.isInteger(m) || m < 0)
    throw new ErasureError("invalid-params", "parityShards must be an integer ≥ 0", { details: String(m) });
  if (k + m > MAX_TOTAL_SHARDS)
    throw new ErasureError(
      "invalid-params",
      `dataShards + parityShards must be ≤ ${MAX_TOTAL_SHARDS} over GF(2^8)`,
      {
        details: `${k} + ${m}`,
      },
    );

  // The parity rows of the generator matrix, m × k, row-major.
  const parityMatrix = new Uint8Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) parityMatrix[i * k + j] = gfInverse((k + i) ^ j);
  }

  /** Row r of the full generator matrix [I; C]. */
  function generatorRow(r: number): Uint8Array {
    if (r >= k) return parityMatrix.subarray((r - k) * k, (r - k + 1) * k);
    const row = new Uint8Array(k);
    row[r] = 1;
    return row;
  }

  return {
    dataShards: k,
    parityShards: m,
    encode(shards) {
      if (shards.length !== k)
        throw new ErasureError("shard-count", `encode takes ${k} data shards`, {
          details: `got ${shards.length}`,
        });
      const size = commonSize(shards);
      const parity = Array.from({ length: m }, () => new Uint8Array(size));
      combine(parityMatrix, shards, parity, size);
      return parity;
    },
    reconstruct(shards, only) {
      if (shards.length !== k + m)
        throw new ErasureError(
          "shard-count",
          `reconstruct takes all ${k + m} shard slots, missing ones undefined`,
          {
            details: `got ${shards.length}`,
          },
        );
      const present: number[] = [];
      const missing: number[] = [];
      shards.forEach((shard, index) => {
        (shard === undefined ? missing : present).push(index);
      });
      const wanted = only === undefined ? missing : missing.filter((index) => only.includes(index));
      const rebuilt = new Map<number, Uint8Array>();
      if (missing.length === 0) return rebuilt;
      if (present.length < k)
        throw new ErasureError(
          "too-many-missing",
          `${missing.length} of ${k + m} shards are missing; at most ${m} may be`,
          { details: `missing ${missing.join(",")}` },
        );
      if (wanted.length === 0) return rebuilt;
      // Any k present shards do; the data shards first make the decode matrix mostly identity.
      const sources = present.slice(0, k);
      const inputs = sources.map((index) => shards[index] as Uint8Array);
      const size = commonSize(inputs);
      for (const index of present) {
        if ((shards[index] as Uint8Array).length !== size)
          throw new ErasureError("shard-size", "all shards must have the same length", {
            details: `shard ${index} has ${(shards[index] as Uint8Array).length} bytes, shard ${sources[0]} has ${size}`,
          });
      }

      // sources = S · data, with S the generator's rows for the sources; so data = S⁻¹ · sources,
      // and any shard r = G[r] · S⁻¹ · sources.
      const decode = invertMatrix(sources.map(generatorRow), k);
      const coefficients = new Uint8Array(wanted.length * k);
      wanted.forEach((index, w) => {
        const row = generatorRow(index);
        for (let col = 0; col < k; col++) {
          let sum = 0;
          for (let t = 0; t < k; t++)
            sum ^= gfMul(row[t] as number, (decode[t] as Uint8Array)[col] as number);
          coefficients[w * k + col] = sum;
        }
      });
      const outputs = wanted.map(() => new Uint8Array(size));
      combine(coefficients, inputs, outputs, size);
      wanted.forEach((index, w) => {
        rebuilt.set(index, outputs[w] as Uint8Array);
      });
      return rebuilt;
    },
  };
}

function commonSize(shards: readonly Uint8Array[]): number {
  const size = shards[0]?.length ?? 0;
  shards.forEach((shard, index) => {
    if (shard.length !== size)
      throw new ErasureError("shard-size", "all shards must have the same length", {
        details: `shard ${index} has ${shard.length} bytes, shard 0 has ${size}`,
      });
  });
  return size;
}

/** Gauss-Jordan inverse of a k × k matrix over GF(2^8); the rows of [I; C] always invert. */
function invertMatrix(rows: Uint8Array[], k: number): Uint8Array[] {
  const a: Uint8Array[] = rows.map((row) => Uint8Array.from(row));
  const inverse = Array.from({ length: k }, (_, r): Uint8Array => {
    const row = new Uint8Array(k);
    row[r] = 1;
    return row;
  });
  for (let col = 0; col < k; col++) {
    let pivot = col;
    while (pivot < k && (a[pivot] as Uint8Array)[col] === 0) pivot++;
    // Unreachable for an MDS generator; kept so a broken matrix fails loudly, not silently.
    if (pivot === k) throw new ErasureError("invalid-params", "decode matrix is singular");
    if (pivot !== col) {
      [a[col], a[pivot]] = [a[pivot] as Uint8Array, a[col] as Uint8Array];
      [inverse[col], inverse[pivot]] = [inverse[pivot] as Uint8Array, inverse[col] as Uint8Array];
    }
    const rowA = a[col] as Uint8Array;
    const rowI = inverse[col] as Uint8Array;
    const scale = gfInverse(rowA[col] as number);
    scaleRow(rowA, scale);
    scaleRow(rowI, scale);
    for (let r = 0; r < k; r++) {
      const factor = r === col ? 0 : ((a[r] as Uint8Array)[col] as number);
      if (factor === 0) continue;
      addScaledRow(a[r] as Uint8Array, rowA, factor);
      addScaledRow(inverse[r] as Uint8Array, rowI, factor);
    }
  }
  return inverse;
}

function scaleRow(row: Uint8Array, factor: number): void {
  for (let i = 0; i < row.length; i++) row[i] = gfMul(factor, row[i] as number);
}

function addScaledRow(target: Uint8Array, row: Uint8Array, factor: number): void {
  for (let i = 0; i < row.length; i++) target[i] = (target[i] as number) ^ gfMul(factor, row[i] as number);
}

/**
 * outputs[r] = Σ_j coefficients[r · n + j] · inputs[j], byte by byte, for n inputs. Block by
 * block so the outputs stay in cache; by 32-bit words where every array is 4-byte aligned.
 */
function combine(
  coefficients: Uint8Array,
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
  size: number,
): void {
  const n = inputs.length;
  const aligned = inputs.every((shard) => shard.byteOffset % 4 === 0);
  const words = aligned ? size >>> 2 : 0;
  const inputWords = aligned ? inputs.map((s) => new Uint32Array(s.buffer, s.byteOffset, words)) : [];
  const outputWords = aligned ? outputs.map((s) => new Uint32Array(s.buffer, s.byteOffset, words)) : [];
  const blockWords = BLOCK_BYTES >>> 2;
  for (let start = 0; start < words; start += blockWords) {
    const end = Math.min(words, start + blockWords);
    for (let r = 0; r < outputs.length; r++) {
      const out = outputWords[r] as Uint32Array;
      let first = true;
      for (let j = 0; j < n; j++) {
        const c = coefficients[r * n + j] as number;
        if (c === 0) continue;
        mulWords(MUL.subarray(c * 256, c * 256 + 256), inputWords[j] as Uint32Array, out, start, end, first);
        first = false;
      }
    }
  }
  // The bytes past the last whole word, or everything when some input is unaligned.
  const tail = words * 4;
  if (tail === size) return;
  for (let r = 0; r < outputs.length; r++) {
    const out = outputs[r] as Uint8Array;
    for (let j = 0; j < n; j++) {
      const c = coefficients[r * n + j] as number;
      if (c === 0) continue;
      const table = MUL.subarray(c * 256, c * 256 + 256);
      const input = inputs[j] as Uint8Array;
      for (let i = tail; i < size; i++) out[i] = (out[i] as number) ^ (table[input[i] as number] as number);
    }
  }
}

/** out[i] (^)= c · src[i] for four bytes per word, through the 256-entry table of c. */
function mulWords(
  table: Uint8Array,
  src: Uint32Array,
  out: Uint32Array,
  start: number,
  end: number,
  overwrite: boolean,
): void {
  if (overwrite) {
    for (let i = start; i < end; i++) {
      const w = src[i] as number;
      out[i] =
        (table[w & 255] as number) |
        ((table[(w >>> 8) & 255] as number) << 8) |
        ((table[(w >>> 16) & 255] as number) << 16) |
        ((table[w >>> 24] as number) << 24);
    }
  } else {
    for (let i = start; i < end; i++) {
      const w = src[i] as number;
      out[i] =
        (out[i] as number) ^
        ((table[w & 255] as number) |
          ((table[(w >>> 8) & 255] as number) << 8) |
          ((table[(w >>> 16) & 255] as number) << 16) |
          ((table[w >>> 24] as number) << 24));
    }
  }
}

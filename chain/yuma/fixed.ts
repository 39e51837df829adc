/**
 * I32F32 fixed-point arithmetic as subtensor's epoch does it (the `substrate-fixed` crate: a signed
 * 64-bit integer with 32 fractional bits), emulated on JavaScript numbers for speed.
 *
 * A value is carried as its *raw* integer, value × 2^32, in an ordinary double. Every raw value the
 * epoch meets stays far below 2^53 (proportions are ≤ 2^32, sums over a subnet ≤ 2^45), so raw
 * addition, subtraction and comparison are exact. Multiplication and division must floor the exact
 * result the way the crate does (discarding low bits), which a plain `a * b / 2^32` in float64
 * cannot guarantee; the helpers below split the operands so every intermediate is an exact integer.
 *
 * Why bother: the chain stores u16 = floor(x × 65535) and rao = floor(x × emission); float64 lands
 * one unit off in a few places (see the conformance vectors' notes).
 */

/** Raw value of 1.0. */
export const FX_ONE = 2 ** 32;

const TWO_16 = 65536;
const TWO_31 = 2 ** 31;
const TWO_37 = 2 ** 37;
const TWO_53 = 2 ** 53;
const TWO_69 = 2 ** 69;
const U16_MAX = 65535;

/**
 * floor(a × b / 2^32) for raw values a, b ≥ 0: the crate's `saturating_mul` on non-negative inputs.
 *
 * @example fxMul(FX_ONE / 2, FX_ONE / 2) === FX_ONE / 4
 */
export function fxMul(a: number, b: number): number {
  const p = a * b;
  // Rounding is monotonic and 2^53 is representable, so p < 2^53 means the product is exact.
  if (p < TWO_53) return Math.floor(p / FX_ONE);
  if (p < TWO_69) {
    // a × b = a·bh·2^16 + a·bl with both partial products below 2^53.
    const bh = Math.floor(b / TWO_16);
    const bl = b - bh * TWO_16;
    const hi = a * bh;
    const q = Math.floor(hi / TWO_16);
    const r = hi - q * TWO_16;
    return q + Math.floor((r * TWO_16 + a * bl) / FX_ONE);
  }
  return Number((BigInt(a) * BigInt(b)) >> 32n);
}

/** ceil(a × b / 2^32) for raw a, b ≥ 0, exact by the same splitting as {@link fxMul}. */
function fxMulCeil(a: number, b: number): number {
  const p = a * b;
  if (p < TWO_53) return Math.ceil(p / FX_ONE);
  if (p < TWO_69) {
    const bh = Math.floor(b / TWO_16);
    const bl = b - bh * TWO_16;
    const hi = a * bh;
    const q = Math.floor(hi / TWO_16);
    const r = hi - q * TWO_16;
    return q + Math.ceil((r * TWO_16 + a * bl) / FX_ONE);
  }
  const exact = BigInt(a) * BigInt(b);
  return Number((exact + BigInt(FX_ONE) - 1n) >> 32n);
}

/**
 * The crate's signed multiplication, which shifts the exact product right (rounds towards −∞).
 *
 * @example fxMulSigned(-1, FX_ONE / 2) === -1
 */
export function fxMulSigned(a: number, b: number): number {
  const negative = a < 0 !== b < 0;
  // `0 -` rather than unary minus keeps a zero product +0.
  return negative ? 0 - fxMulCeil(Math.abs(a), Math.abs(b)) : fxMul(Math.abs(a), Math.abs(b));
}

/**
 * floor(a × 2^32 / b) for raw a ≥ 0, b > 0: the crate's division of non-negative values. Returns 0
 * when b is 0 (callers check for zero sums first, as subtensor does).
 *
 * @example fxDiv(1, 3) === Math.floor(FX_ONE / 3)
 */
export function fxDiv(a: number, b: number): number {
  if (b <= 0) return 0;
  const n = a * FX_ONE;
  // Below 2^53 both operands are exact integers and floor(n / b) is exact (the quotient can never
  // round up to the next integer: that would need an error ≥ 1/b, above half an ulp of n/b).
  if (n < TWO_53) return Math.floor(n / b);
  if (a < TWO_37 && b < TWO_37) {
    // Two 16-bit long-division steps; every intermediate stays below 2^53.
    const t = a * TWO_16;
    const q = Math.floor(t / b);
    return q * TWO_16 + Math.floor(((t - q * b) * TWO_16) / b);
  }
  // Integer part, then the 32 fractional bits by long division in chunks small enough to stay exact.
  const whole = Math.floor(a / b);
  let rem = a - whole * b;
  const step = Math.max(1, 52 - Math.ceil(Math.log2(b + 1)));
  let frac = 0;
  let left = 32;
  while (left > 0) {
    const s = Math.min(step, left);
    const scale = 2 ** s;
    const t = rem * scale;
    const q = Math.floor(t / b);
    rem = t - q * b;
    frac = frac * scale + q;
    left -= s;
  }
  return whole * FX_ONE + frac;
}

/** Raw I32F32 of the integer k (exact). */
export function fxFromInt(k: number): number {
  return k * FX_ONE;
}

/** `I32F32::from_num(x) / I32F32::from_num(65535)`: a u16 read as a proportion of u16::MAX. */
export function fxFromU16Proportion(x: number): number {
  return Math.floor((x * FX_ONE) / U16_MAX);
}

/** `I32F32::from_num(f64)`: round to nearest, ties to even. */
export function fxFromFloat(x: number): number {
  const scaled = x * FX_ONE;
  const f = Math.floor(scaled);
  const d = scaled - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Float value of a raw I32F32 (for reporting only). */
export function fxToFloat(raw: number): number {
  return raw / FX_ONE;
}

/**
 * subtensor's `fixed_proportion_to_u16`: floor(x × 65535), saturating into [0, 65535].
 *
 * @example fxToU16(FX_ONE) === 65535
 */
export function fxToU16(raw: number): number {
  if (raw <= 0) return 0;
  const v = Math.floor((raw * U16_MAX) / FX_ONE);
  return Math.min(v, U16_MAX);
}

/** The crate's `round()` (ties away from zero) followed by a cast to an integer, for raw ≥ 0. */
export function fxRoundToInt(raw: number): number {
  return Math.floor((raw + TWO_31) / FX_ONE);
}

/**
 * floor(raw × amount / 2^32) as a bigint: an I32F32 proportion applied to a u64 amount through
 * I96F32, as the epoch turns normalised emission into rao.
 */
export function fxScaleAmount(raw: number, amount: bigint): bigint {
  if (raw <= 0 || amount <= 0n) return 0n;
  return (BigInt(raw) * amount) >> 32n;
}

/**
 * floor(part × 2^32 / total) for u64 integers: an I64F64 normalisation narrowed to I32F32, which is
 * how the epoch normalises raw stake (the two truncations compose into one).
 */
export function fxRatioOfBigints(part: bigint, total: bigint): number {
  if (total <= 0n || part <= 0n) return 0;
  return Number((part << 32n) / total);
}

/** Sum of raw values (exact). */
export function fxSum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s;
}

/** subtensor's `inplace_normalize`: divide by the sum unless it is 0. */
export function fxNormalizeInPlace(values: Float64Array): void {
  const sum = fxSum(values);
  if (sum === 0) return;
  for (let i = 0; i < values.length; i++) values[i] = fxDiv(values[i] as number, sum);
}

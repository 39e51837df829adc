/**
 * SubtensorModule's errors: the metadata's error variants, the `InvalidTransaction::Custom` codes
 * its transaction extension rejects with, and the wrapper that turns a {@link ModuleFail} thrown
 * deep in a helper into the call's module error.
 */
import { DevChainError } from "../../errors.js";
import { type DispatchContext, type ErrorDef, InvalidTransaction } from "../../pallet.js";
import { SUBTENSOR_ERRORS } from "./error-names.js";

/** Every variant of subtensor's `Error` enum, dense and in index order (see error-names.ts). */
export const subtensorErrors: ErrorDef[] = SUBTENSOR_ERRORS.map(([name, doc], index) => ({
  name,
  index,
  docs: [doc],
}));

/** Validation-time rejections as `InvalidTransaction::Custom(code)` (reference section 0.3). */
const CUSTOM_CODES: Record<string, number> = {
  NotEnoughStakeToSetWeights: 1,
  SubnetNotExists: 3,
  SettingWeightsTooFast: 6,
  CommittingWeightsTooFast: 6,
  NetworkTxRateLimitExceeded: 6,
  HotKeyNotRegisteredInNetwork: 10,
  InvalidIpAddress: 11,
  ServingRateLimitExceeded: 12,
  InvalidPort: 13,
  NoWeightsCommitFound: 16,
  RevealTooEarly: 17,
  HotKeyNotRegisteredInSubNet: 19,
};

/** A module error raised outside a dispatch context; turned into `ctx.fail` by the call wrapper. */
export class ModuleFail extends DevChainError {
  override name = "ModuleFail";
  constructor(readonly error: string) {
    super(error);
  }
}

export function withFail(handler: (ctx: DispatchContext, args: Record<string, unknown>) => void) {
  return (ctx: DispatchContext, args: Record<string, unknown>) => {
    try {
      handler(ctx, args);
    } catch (err) {
      if (err instanceof ModuleFail) ctx.fail(err.error);
      throw err;
    }
  };
}

/** Rejects a transaction in validation with the code subtensor's extension uses for `error`. */
export function reject(error: string): never {
  throw new InvalidTransaction("Custom", CUSTOM_CODES[error] ?? 255);
}

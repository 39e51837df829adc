/**
 * SubtensorModule's errors: the metadata's error variants, the `InvalidTransaction::Custom` codes
 * its transaction extension rejects with, and the wrapper that turns a {@link ModuleFail} thrown
 * deep in a helper into the call's module error.
 */
import { DevChainError } from "../../errors.js";
import { type DispatchContext, type ErrorDef, InvalidTransaction } from "../../pallet.js";
import { SUBTENSOR_ERRORS } from "./error-names.js";

const errorIndices: Record<string, number> = {
  InvalidIpType: 1,
  InvalidIpAddress: 2,
  InvalidPort: 3,
  HotKeyNotRegisteredInSubNet: 4,
  HotKeyAccountNotExists: 5,
  HotKeyNotRegisteredInNetwork: 6,
  NonAssociatedColdKey: 7,
  NotEnoughStakeToWithdraw: 9,
  NotEnoughStakeToSetWeights: 10,
  NotEnoughBalanceToStake: 12,
  BalanceWithdrawalError: 13,
  NeuronNoValidatorPermit: 15,
  WeightVecNotEqualSize: 16,
  DuplicateUids: 17,
  UidVecContainInvalidOne: 18,
  WeightVecLengthIsLow: 19,
  TooManyRegistrationsThisBlock: 20,
  HotKeyAlreadyRegisteredInSubNet: 21,
  MaxWeightExceeded: 27,
  SettingWeightsTooFast: 29,
  IncorrectWeightVersionKey: 30,
  ServingRateLimitExceeded: 31,
  UidsLengthExceedUidsInSubNet: 32,
  NetworkTxRateLimitExceeded: 33,
  SubNetRegistrationDisabled: 37,
  RegistrationNotPermittedOnRootSubnet: 42,
  CanNotSetRootNetworkWeights: 47,
  NoNeuronIdAvailable: 48,
  NoWeightsCommitFound: 51,
  InvalidRevealCommitHashNotMatch: 52,
  CommitRevealEnabled: 53,
  CommitRevealDisabled: 54,
  LiquidAlphaDisabled: 55,
  AlphaHighTooLow: 56,
  AlphaLowOutOfRange: 57,
  TxRateLimitExceeded: 64,
  MechanismDoesNotExist: 74,
  StakeUnavailable: 75,
  SubnetNotExists: 76,
  TooManyUnrevealedCommits: 77,
  ExpiredWeightCommit: 78,
  RevealTooEarly: 79,
  InputLengthsUnequal: 80,
  CommittingWeightsTooFast: 81,
  AmountTooLow: 82,
  InsufficientLiquidity: 83,
  SlippageTooHigh: 84,
  ActivityCutoffTooLow: 86,
  FirstEmissionBlockNumberAlreadySet: 88,
  NeedWaitingMoreBlocksToStarCall: 89,
  SubtokenDisabled: 94,
  AdminActionProhibitedDuringWeightsWindow: 107,
  RevealPeriodTooLarge: 112,
  RevealPeriodTooSmall: 113,
  SubnetLimitReached: 115,
  CannotAffordLockCost: 116,
  TooManyUIDsPerMechanism: 125,
  RegistrationPriceLimitExceeded: 134,
  CannotUseSystemAccount: 139,
  TempoOutOfBounds: 141,
};

const namedAt = new Map(Object.entries(errorIndices).map(([name, index]) => [index, name]));

/** Every variant, dense: the ones the dev chain raises keep the indices above. */
export const subtensorErrors: ErrorDef[] = SUBTENSOR_ERRORS.map(([name, doc], index) => ({
  name: namedAt.get(index) ?? name,
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

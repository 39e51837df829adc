/**
 * SubtensorModule's errors: the metadata's error variants, the `InvalidTransaction::Custom` codes
 * its transaction extension rejects with, and the wrapper that turns a {@link ModuleFail} thrown
 * deep in a helper into the call's module error.
 */
import { DevChainError } from "../../errors.js";
import { type DispatchContext, type ErrorDef, InvalidTransaction } from "../../pallet.js";

/**
 * Every variant of subtensor's `Error` enum (`macros/errors.rs`) with its doc line, in index order.
 * All of them are declared, not only those the dev chain raises: py-scale-codec resolves a module
 * error by its position in the metadata's error list (a gap breaks every later error), and btcli
 * formats an error only when its docs are present.
 */
const ERRORS: ReadonlyArray<readonly [string, string]> = [
  ["RootNetworkDoesNotExist", "The root network does not exist."],
  ["InvalidIpType", "The user is trying to serve an axon which is not of type 4 (IPv4) or 6 (IPv6)."],
  ["InvalidIpAddress", "An invalid IP address is passed to the serve function."],
  ["InvalidPort", "An invalid port is passed to the serve function."],
  ["HotKeyNotRegisteredInSubNet", "The hotkey is not registered in subnet"],
  ["HotKeyAccountNotExists", "The hotkey does not exists"],
  ["HotKeyNotRegisteredInNetwork", "The hotkey is not registered in any subnet."],
  [
    "NonAssociatedColdKey",
    "Request to stake, unstake or subscribe is made by a coldkey that is not associated with the hotkey account.",
  ],
  [
    "NotEnoughStake",
    "DEPRECATED: Stake amount to withdraw is zero. The caller does not have enought stake to perform this action.",
  ],
  [
    "NotEnoughStakeToWithdraw",
    'The caller is requesting removing more stake than there exists in the staking account. See: "[remove_stake()]".',
  ],
  [
    "NotEnoughStakeToSetWeights",
    "The caller is requesting to set weights but the caller has less than minimum stake required to set weights (less than WeightsMinStake).",
  ],
  ["NotEnoughStakeToSetChildkeys", "The parent hotkey doesn't have enough own stake to set childkeys."],
  [
    "NotEnoughBalanceToStake",
    'The caller is requesting adding more stake than there exists in the coldkey account. See: "[add_stake()]"',
  ],
  [
    "BalanceWithdrawalError",
    "The caller is trying to add stake, but for some reason the requested amount could not be withdrawn from the coldkey account.",
  ],
  [
    "ZeroBalanceAfterWithdrawn",
    "Unsuccessfully withdraw, balance could be zero (can not make account exist) after withdrawal.",
  ],
  [
    "NeuronNoValidatorPermit",
    "The caller is attempting to set non-self weights without being a permitted validator.",
  ],
  [
    "WeightVecNotEqualSize",
    "The caller is attempting to set the weight keys and values but these vectors have different size.",
  ],
  ["DuplicateUids", "The caller is attempting to set weights with duplicate UIDs in the weight matrix."],
  [
    "UidVecContainInvalidOne",
    "The caller is attempting to set weight to at least one UID that does not exist in the metagraph.",
  ],
  [
    "WeightVecLengthIsLow",
    "The dispatch is attempting to set weights on chain with fewer elements than are allowed.",
  ],
  [
    "TooManyRegistrationsThisBlock",
    'Number of registrations in this block exceeds the allowed number (i.e., exceeds the subnet hyperparameter "max_regs_per_block").',
  ],
  [
    "HotKeyAlreadyRegisteredInSubNet",
    "The caller is requesting registering a neuron which already exists in the active set.",
  ],
  ["NewHotKeyIsSameWithOld", "The new hotkey is the same as old one"],
  [
    "NewHotKeyNotCleanForRootSwap",
    "The new hotkey has outstanding root claimable or non-zero root stake, so the root rate-book cannot be merged without misallocating dividends.",
  ],
  ["InvalidWorkBlock", "The supplied PoW hash block is in the future or negative."],
  ["InvalidDifficulty", "The supplied PoW hash block does not meet the network difficulty."],
  ["InvalidSeal", "The supplied PoW hash seal does not match the supplied work."],
  [
    "MaxWeightExceeded",
    "The dispatch is attempting to set weights on chain with weight value exceeding the configured max weight limit (currently `u16::MAX`).",
  ],
  [
    "HotKeyAlreadyDelegate",
    "The hotkey is attempting to become a delegate when the hotkey is already a delegate.",
  ],
  ["SettingWeightsTooFast", "A transactor exceeded the rate limit for setting weights."],
  [
    "IncorrectWeightVersionKey",
    "A validator is attempting to set weights from a validator with incorrect weight version.",
  ],
  [
    "ServingRateLimitExceeded",
    "An axon or prometheus serving exceeded the rate limit for a registered neuron.",
  ],
  ["UidsLengthExceedUidsInSubNet", "The caller is attempting to set weights with more UIDs than allowed."],
  ["NetworkTxRateLimitExceeded", "A transactor exceeded the rate limit for add network transaction."],
  ["DelegateTxRateLimitExceeded", "A transactor exceeded the rate limit for delegate transaction."],
  ["HotKeySetTxRateLimitExceeded", "A transactor exceeded the rate limit for setting or swapping hotkey."],
  ["StakingRateLimitExceeded", "A transactor exceeded the rate limit for staking."],
  ["SubNetRegistrationDisabled", "Registration is disabled."],
  [
    "TooManyRegistrationsThisInterval",
    "The number of registration attempts exceeded the allowed number in the interval.",
  ],
  ["TransactorAccountShouldBeHotKey", "The hotkey is required to be the origin."],
  ["FaucetDisabled", "Faucet is disabled."],
  ["NotSubnetOwner", "Not a subnet owner."],
  ["RegistrationNotPermittedOnRootSubnet", "Operation is not permitted on the root subnet."],
  ["StakeTooLowForRoot", "A hotkey with too little stake is attempting to join the root subnet."],
  ["AllNetworksInImmunity", "All subnets are in the immunity period."],
  ["NotEnoughBalanceToPaySwapHotKey", "Not enough balance to pay swapping hotkey."],
  ["NotRootSubnet", "Netuid does not match for setting root network weights."],
  ["CanNotSetRootNetworkWeights", "Can not set weights for the root network."],
  ["NoNeuronIdAvailable", "No neuron ID is available."],
  ["DelegateTakeTooLow", "Delegate take is too low."],
  ["DelegateTakeTooHigh", "Delegate take is too high."],
  [
    "NoWeightsCommitFound",
    "No commit found for the provided hotkey+netuid combination when attempting to reveal the weights.",
  ],
  ["InvalidRevealCommitHashNotMatch", "Committed hash does not equal the hashed reveal data."],
  ["CommitRevealEnabled", "Attempting to call set_weights when commit/reveal is enabled"],
  ["CommitRevealDisabled", "Attemtping to commit/reveal weights when disabled."],
  ["LiquidAlphaDisabled", "Attempting to set alpha high/low while disabled"],
  ["AlphaHighTooLow", "Alpha high is too low: alpha_high > 0.8"],
  ["AlphaLowOutOfRange", "Alpha low is out of range: alpha_low > 0 && alpha_low < 0.8"],
  ["ColdKeyAlreadyAssociated", "The coldkey has already been swapped"],
  ["NotEnoughBalanceToPaySwapColdKey", "The coldkey balance is not enough to pay for the swap"],
  ["InvalidChild", "Attempting to set an invalid child for a hotkey on a network."],
  ["DuplicateChild", "Duplicate child when setting children."],
  ["ProportionOverflow", "Proportion overflow when setting children."],
  ["TooManyChildren", "Too many children MAX 5."],
  ["TxRateLimitExceeded", "Default transaction rate limit exceeded."],
  ["ColdkeySwapAnnouncementNotFound", "Coldkey swap announcement not found"],
  ["ColdkeySwapTooEarly", "Coldkey swap too early."],
  ["ColdkeySwapReannouncedTooEarly", "Coldkey swap reannounced too early."],
  ["AnnouncedColdkeyHashDoesNotMatch", "The announced coldkey hash does not match the new coldkey hash."],
  ["ColdkeySwapAlreadyDisputed", "Coldkey swap already disputed"],
  ["NewColdKeyIsHotkey", "New coldkey is hotkey"],
  ["InvalidChildkeyTake", "Childkey take is invalid."],
  ["TxChildkeyTakeRateLimitExceeded", "Childkey take rate limit exceeded."],
  ["InvalidIdentity", "Invalid identity."],
  ["MechanismDoesNotExist", "Subnet mechanism does not exist."],
  ["StakeUnavailable", "Trying to unstake or re-lock the locked amount."],
  ["SubnetNotExists", "Trying to perform action on non-existent subnet."],
  ["TooManyUnrevealedCommits", "Maximum commit limit reached"],
  ["ExpiredWeightCommit", "Attempted to reveal weights that are expired."],
  ["RevealTooEarly", "Attempted to reveal weights too early."],
  ["InputLengthsUnequal", "Attempted to batch reveal weights with mismatched vector input lenghts."],
  ["CommittingWeightsTooFast", "A transactor exceeded the rate limit for setting weights."],
  ["AmountTooLow", "Stake amount is too low."],
  ["InsufficientLiquidity", "Not enough liquidity."],
  ["SlippageTooHigh", "Slippage is too high for the transaction."],
  ["TransferDisallowed", "Subnet disallows transfer."],
  ["ActivityCutoffTooLow", "Activity cutoff is being set too low."],
  ["CallDisabled", "Call is disabled"],
  ["FirstEmissionBlockNumberAlreadySet", "FirstEmissionBlockNumber is already set."],
  ["NeedWaitingMoreBlocksToStarCall", "need wait for more blocks to accept the start call extrinsic."],
  ["NotEnoughAlphaOutToRecycle", "Not enough AlphaOut on the subnet to recycle"],
  ["CannotBurnOrRecycleOnRootSubnet", "Cannot burn or recycle TAO from root subnet"],
  ["UnableToRecoverPublicKey", "Public key cannot be recovered."],
  ["InvalidRecoveredPublicKey", "Recovered public key is invalid."],
  ["SubtokenDisabled", "SubToken disabled now"],
  ["HotKeySwapOnSubnetIntervalNotPassed", "Too frequent hotkey swap on subnet"],
  ["SameNetuid", "Invalid netuid duplication"],
  ["InsufficientBalance", "The caller does not have enough balance for the operation."],
  ["InvalidLeaseBeneficiary", "Invalid lease beneficiary to register the leased network."],
  ["LeaseCannotEndInThePast", "Lease cannot end in the past."],
  ["LeaseNetuidNotFound", "Couldn't find the lease netuid."],
  ["LeaseDoesNotExist", "Lease does not exist."],
  ["LeaseHasNoEndBlock", "Lease has no end block."],
  ["LeaseHasNotEnded", "Lease has not ended."],
  ["Overflow", "An overflow occurred."],
  ["BeneficiaryDoesNotOwnHotkey", "Beneficiary does not own hotkey."],
  ["ExpectedBeneficiaryOrigin", "Expected beneficiary origin."],
  [
    "AdminActionProhibitedDuringWeightsWindow",
    "Admin operation is prohibited during the protected weights window",
  ],
  ["SymbolDoesNotExist", "Symbol does not exist."],
  ["SymbolAlreadyInUse", "Symbol already in use."],
  ["IncorrectCommitRevealVersion", "Incorrect commit-reveal version."],
  ["InvalidRevealRound", "Reveal round is older than the most recently stored DRAND round."],
  ["RevealPeriodTooLarge", "Reveal period is too large."],
  ["RevealPeriodTooSmall", "Reveal period is too small."],
  ["InvalidValue", "Generic error for out-of-range parameter value"],
  ["SubnetLimitReached", "Subnet limit reached & there is no eligible subnet to prune"],
  ["CannotAffordLockCost", "Insufficient funds to meet the subnet lock cost"],
  ["EvmKeyAssociateRateLimitExceeded", "exceeded the rate limit for associating an EVM key."],
  ["SameAutoStakeHotkeyAlreadySet", "Same auto stake hotkey already set"],
  ["UidMapCouldNotBeCleared", "The UID map for the subnet could not be cleared"],
  ["TrimmingWouldExceedMaxImmunePercentage", "Trimming would exceed the max immune neurons percentage"],
  ["ChildParentInconsistency", "Violating the rules of Childkey-Parentkey consistency"],
  ["InvalidNumRootClaim", "Invalid number of root claims"],
  ["InvalidRootClaimThreshold", "Invalid value of root claim threshold"],
  ["InvalidSubnetNumber", "Exceeded subnet limit number or zero."],
  ["TooManyUIDsPerMechanism", "The maximum allowed UIDs times mechanism count should not exceed 256."],
  ["VotingPowerTrackingNotEnabled", "Voting power tracking is not enabled for this subnet."],
  ["InvalidVotingPowerEmaAlpha", "Invalid voting power EMA alpha value (must be <= 10^18)."],
  ["Deprecated", "Deprecated call."],
  ["AddStakeBurnRateLimitExceeded", '"Add stake and burn" exceeded the operation rate limit'],
  ["ColdkeySwapAnnounced", "A coldkey swap has been announced for this account."],
  ["ColdkeySwapDisputed", "A coldkey swap for this account is under dispute."],
  ["ColdkeySwapClearTooEarly", "Coldkey swap clear too early."],
  ["DisabledTemporarily", "Disabled temporarily."],
  ["RegistrationPriceLimitExceeded", "Registration Price Limit Exceeded"],
  ["LockHotkeyMismatch", "Lock hotkey mismatch: existing lock is for a different hotkey."],
  ["InsufficientStakeForLock", "Insufficient stake on subnet to cover the lock amount."],
  ["NoExistingLock", "No existing lock found for the given coldkey and subnet."],
  ["ActiveLockExists", "There is already an active lock for the given coldkey."],
  ["CannotUseSystemAccount", "A system account cannot be used in this operation"],
  ["UnlockAmountTooHigh", "Trying to unlock more than locked"],
  ["TempoOutOfBounds", "The supplied tempo is outside the allowed range."],
  [
    "ActivityCutoffFactorMilliOutOfBounds",
    "The supplied activity-cutoff factor is outside the allowed range.",
  ],
  [
    "EpochTriggerAlreadyPending",
    "An epoch trigger is already pending for this subnet; wait for it to fire before triggering again.",
  ],
  [
    "AutoEpochAlreadyImminent",
    "The next automatic epoch is already imminent; a manual trigger would have no effect.",
  ],
  [
    "DynamicTempoBlockedByCommitReveal",
    "`trigger_epoch` is blocked because commit-reveal is enabled for this subnet: an out-of-band epoch would desync the CRv3 reveal window from the wall-clock Drand schedule and silently drop committed weights.",
  ],
  ["AccountRejectsLockedAlpha", "The destination coldkey rejects incoming locked alpha."],
];

export const subtensorErrors: ErrorDef[] = ERRORS.map(([name, doc], index) => ({ name, index, docs: [doc] }));

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

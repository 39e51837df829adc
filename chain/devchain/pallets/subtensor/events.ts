/** SubtensorModule's events, with subtensor's names, indices and field shapes. */

import type { EventDef } from "../../pallet.js";
import { ACCOUNT_ID, H256, t } from "../../scale.js";
import { NETUID } from "./types.js";

export const subtensorEvents: EventDef[] = [
  { name: "NetworkAdded", index: 0, fields: [NETUID, t.u16] },
  { name: "NetworkRemoved", index: 1, fields: [NETUID] },
  { name: "StakeAdded", index: 2, fields: [ACCOUNT_ID, ACCOUNT_ID, t.u64, t.u64, NETUID, t.u64] },
  { name: "StakeRemoved", index: 3, fields: [ACCOUNT_ID, ACCOUNT_ID, t.u64, t.u64, NETUID, t.u64] },
  { name: "WeightsSet", index: 5, fields: [NETUID, t.u16] },
  { name: "NeuronRegistered", index: 6, fields: [NETUID, t.u16, ACCOUNT_ID] },
  { name: "MaxAllowedUidsSet", index: 9, fields: [NETUID, t.u16] },
  { name: "RegistrationPerIntervalSet", index: 13, fields: [NETUID, t.u16] },
  { name: "MaxRegistrationsPerBlockSet", index: 14, fields: [NETUID, t.u16] },
  { name: "ActivityCutoffSet", index: 15, fields: [NETUID, t.u16] },
  { name: "KappaSet", index: 18, fields: [NETUID, t.u16] },
  { name: "MinAllowedWeightSet", index: 19, fields: [NETUID, t.u16] },
  { name: "WeightsSetRateLimitSet", index: 22, fields: [NETUID, t.u64] },
  { name: "ImmunityPeriodSet", index: 23, fields: [NETUID, t.u16] },
  { name: "BondsMovingAverageSet", index: 24, fields: [NETUID, t.u64] },
  { name: "BondsPenaltySet", index: 25, fields: [NETUID, t.u16] },
  { name: "MaxAllowedValidatorsSet", index: 27, fields: [NETUID, t.u16] },
  { name: "AxonServed", index: 28, fields: [NETUID, ACCOUNT_ID] },
  { name: "PrometheusServed", index: 29, fields: [NETUID, ACCOUNT_ID] },
  { name: "WeightsVersionKeySet", index: 32, fields: [NETUID, t.u64] },
  { name: "ServingRateLimitSet", index: 35, fields: [NETUID, t.u64] },
  { name: "MaxBurnSet", index: 37, fields: [NETUID, t.u64] },
  { name: "MinBurnSet", index: 38, fields: [NETUID, t.u64] },
  { name: "RegistrationAllowed", index: 50, fields: [NETUID, t.bool] },
  { name: "TempoSet", index: 52, fields: [NETUID, t.u16] },
  { name: "NetworkRateLimitSet", index: 58, fields: [t.u64] },
  { name: "SubnetIdentitySet", index: 78, fields: [NETUID] },
  { name: "WeightsCommitted", index: 85, fields: [ACCOUNT_ID, NETUID, H256] },
  { name: "WeightsRevealed", index: 86, fields: [ACCOUNT_ID, NETUID, H256] },
  { name: "SubnetOwnerHotkeySet", index: 94, fields: [NETUID, ACCOUNT_ID] },
  { name: "FirstEmissionBlockNumberSet", index: 95, fields: [NETUID, t.u64] },
  { name: "CommitRevealPeriodsSet", index: 100, fields: [NETUID, t.u64] },
  { name: "CommitRevealEnabled", index: 101, fields: [NETUID, t.bool] },
  { name: "IncentiveAlphaEmittedToMiners", index: 110, fields: { netuid: NETUID, emissions: t.vec(t.u64) } },
  { name: "EpochSkipped", index: 133, fields: { netuid: NETUID, block: t.u64 } },
];

import { describe, expect, it } from "vitest";
import { payEpoch, splitBlockEmission } from "../chain/yuma/payout.js";

describe("splitBlockEmission", () => {
  it("takes the owner cut, then halves the rest with the odd rao to validators", () => {
    expect(splitBlockEmission(1_000_000_000n, 11796)).toEqual({
      ownerCut: 179_995_422n,
      server: 410_002_289n,
      validator: 410_002_289n,
    });
    expect(splitBlockEmission(101n, 0)).toEqual({ ownerCut: 0n, server: 50n, validator: 51n });
  });

  it("loses no rao", () => {
    for (const [emission, cut] of [
      [1n, 65535],
      [999_999_937n, 1],
      [10n ** 12n, 32768],
    ] as const) {
      const s = splitBlockEmission(emission, cut);
      expect(s.ownerCut + s.server + s.validator).toBe(emission);
    }
  });
});

describe("payEpoch", () => {
  it("pays miners by incentive share and validators by dividend share", () => {
    const pay = payEpoch({
      server: 1000n,
      validator: 600n,
      incentive: [0, 0, 30000, 10000],
      dividends: [40000, 20000, 0, 0],
    });
    expect(pay.incentiveShare).toEqual([0n, 0n, 750n, 250n]);
    expect(pay.minerIncentive).toEqual([0n, 0n, 750n, 250n]);
    expect(pay.validatorDividends).toEqual([400n, 200n, 0n, 0n]);
    expect(pay.withheld).toBe(0n);
  });

  it("withholds the owner's incentive but still reports its share", () => {
    const asked: number[] = [];
    const pay = payEpoch({
      server: 1000n,
      validator: 600n,
      incentive: [0, 30000, 10000],
      dividends: [65535, 0, 0],
      isOwnerUid: (uid) => {
        asked.push(uid);
        return uid === 2;
      },
    });
    expect(pay.incentiveShare).toEqual([0n, 750n, 250n]);
    expect(pay.minerIncentive).toEqual([0n, 750n, 0n]);
    expect(pay.withheld).toBe(250n);
    expect(pay.validatorDividends).toEqual([600n, 0n, 0n]);
    // Only uids that earned incentive are asked about.
    expect(asked).toEqual([1, 2]);
  });

  it("gives validators both buckets when no uid has incentive", () => {
    const pay = payEpoch({ server: 1000n, validator: 600n, incentive: [0, 0], dividends: [1, 3] });
    expect(pay.minerIncentive).toEqual([0n, 0n]);
    expect(pay.validatorDividends).toEqual([400n, 1200n]);
  });

  it("pays nothing when the epoch produced no incentive or dividends", () => {
    const pay = payEpoch({ server: 1000n, validator: 600n, incentive: [0, 0], dividends: [0, 0] });
    expect(pay.minerIncentive).toEqual([0n, 0n]);
    expect(pay.validatorDividends).toEqual([0n, 0n]);
  });
});

/**
 * The chain layer's errors: one base (short message, details, cause) under the client's, the
 * wallet's and Yuma's errors, so a caller matches a family with `instanceof` and never by text.
 */
import { describe, expect, it } from "vitest";
import { resolveEndpoint, UnknownNetworkError } from "../chain/endpoint.js";
import { ChainError, ChainLayerError, ChainModuleError, ChainUnavailableError } from "../chain/errors.js";
import { WalletError, WalletNotFoundError } from "../chain/wallet.js";
import { YumaInputError } from "../chain/yuma/epoch.js";
import { VectorFormatError } from "../chain/yuma/vectors.js";

describe("chain layer errors", () => {
  it("keep the short message, the details and the cause apart", () => {
    const cause = new Error("socket closed");
    const err = new ChainUnavailableError("lost the chain", { details: "ws://127.0.0.1:9944", cause });
    expect(err).toMatchObject({
      name: "ChainUnavailableError",
      shortMessage: "lost the chain",
      details: "ws://127.0.0.1:9944",
      message: "lost the chain: ws://127.0.0.1:9944",
    });
    expect(err.cause).toBe(cause);
    expect(new ChainError("plain").message).toBe("plain");
  });

  it("a module error names its pallet and error, with the docs as details", () => {
    const err = new ChainModuleError("subtensorModule", "SettingWeightsTooFast", "Rate limited.");
    expect(err.message).toBe("subtensorModule.SettingWeightsTooFast: Rate limited.");
    expect(err.shortMessage).toBe("subtensorModule.SettingWeightsTooFast");
    expect(new ChainModuleError("balances", "InsufficientBalance", "").message).toBe(
      "balances.InsufficientBalance",
    );
  });

  it("every family shares the base, and the families stay apart", () => {
    const wallet = new WalletNotFoundError("no hotkey", { file: "/tmp/w/hotkeys/h" });
    expect(wallet).toBeInstanceOf(WalletError);
    expect(wallet).toBeInstanceOf(ChainLayerError);
    expect(wallet).not.toBeInstanceOf(ChainError);
    expect(wallet.file).toBe("/tmp/w/hotkeys/h");
    for (const err of [new YumaInputError("bad"), new VectorFormatError("bad"), new ChainError("bad")])
      expect(err).toBeInstanceOf(ChainLayerError);
    expect(() => resolveEndpoint({ network: "mainnet" })).toThrow(UnknownNetworkError);
  });
});

import { describe, expect, it } from "vitest";
import { UsageError } from "../sim/cli.js";
import { SimError } from "../sim/errors.js";
import { ScenarioError } from "../sim/scenario.js";

describe("SimError", () => {
  it("keeps the short message, details and cause; subclasses match by instanceof and name", () => {
    const cause = new Error("root");
    const err = new ScenarioError("bad scenario", { details: "miners: expected a number", cause });
    expect(err).toBeInstanceOf(SimError);
    expect(err).toBeInstanceOf(ScenarioError);
    expect(err).not.toBeInstanceOf(UsageError);
    expect(err.name).toBe("ScenarioError");
    expect(err.shortMessage).toBe("bad scenario");
    expect(err.details).toBe("miners: expected a number");
    expect(err.message).toBe("bad scenario\n\nDetails: miners: expected a number");
    expect(err.cause).toBe(cause);
  });

  it("is its short message when there are no details", () => {
    const err = new UsageError("--miners must be an integer");
    expect(err.message).toBe("--miners must be an integer");
    expect(err.details).toBeUndefined();
    expect("cause" in err).toBe(false);
  });
});

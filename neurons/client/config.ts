/**
 * The client CLI's options (`node neurons/client.js`): the nodes' chain and wallet options
 * (neurons/config.ts commonConfigSchema: `--netuid`, `--wallet.*`, `--subtensor.*`, `--config`,
 * `SUBNET_*`) and its own. Storage paths, metrics and logs are the nodes' alone.
 */
import { z } from "zod";
import { commonConfigSchema, option } from "../config.js";
import { RANGE_PATTERN, TTL_PATTERN } from "./flags.js";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./gateway-pool.js";

export const clientConfigSchema = commonConfigSchema
  .omit({ db_root_path: true, "prometheus.port": true })
  .extend({
    gateway: option(
      "Client",
      "Gateway URL (a validator's client API); unset, gateways are found on chain",
      z
        .string()
        .regex(/^https?:\/\/\S+$/, "must be an http:// or https:// URL")
        .optional(),
    ),
    json: option("Client", "Print JSON on stdout, and no progress", z.boolean().default(false)),
    public: option(
      "Client",
      "put: store plaintext that anyone may read by CID (default: encrypted for the hotkey)",
      z.boolean().default(false),
    ),
    ttl: option(
      "Client",
      "put: keep the file this long: 30d, 12h, 90m, 3600s or seconds (default: until removed)",
      z.string().regex(TTL_PATTERN, "must be like 30d, 12h, 90m, 3600s or 3600").optional(),
    ),
    output: option(
      "Client",
      "get: write to this file, or - for stdout (the default); also -o",
      z.string().min(1).optional(),
    ),
    range: option(
      "Client",
      "get: only bytes a-b (inclusive, from 0) or a- (to the end)",
      z.string().regex(RANGE_PATTERN, "must be a-b or a-").optional(),
    ),
    timeout: option(
      "Client",
      "Seconds one short request (info, list, status, one block) may take",
      z
        .number()
        .positive()
        .max(3600)
        .default(DEFAULT_REQUEST_TIMEOUT_MS / 1000),
    ),
  });

export type ClientConfig = z.output<typeof clientConfigSchema>;

/**
 * Conformance vectors for the epoch: JSON scenarios whose expected outputs are the numbers
 * subtensor's own epoch tests assert (see `chain/yuma/vectors/README.md`, copied from the shared set).
 *
 * A scenario file lists neurons, hyperparameters and a sequence of epochs; each epoch names the
 * weights set before it, events (stake added, uids replaced), the chain state in effect and the
 * expected outputs. The checker replays the sequence through {@link runEpoch}, carrying bonds and
 * validator permits from one call to the next as the chain does, and compares every expected field
 * that the reference test asserts. A file in a format it does not understand fails: an unknown
 * expected field is a miss, never a silent pass.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { ChainLayerError } from "../errors.js";
import {
  activityCutoffBlocks,
  computeBondsYuma3,
  type EpochOutput,
  maxUpscaleRow,
  type Row,
  runEpoch,
  unpackRow,
  type YumaHyperparameters,
} from "./epoch.js";
import { FX_ONE, fxFromFloat } from "./fixed.js";

/** One compared field of one epoch. */
export interface VectorCheck {
  epoch: string;
  field: string;
  /** Largest absolute difference over the field's entries, in the field's units. */
  worstError: number;
  tolerance: number;
  pass: boolean;
  /** First mismatching entries, for the report. */
  detail?: string;
}

/** The verdict on one vector file. */
export interface VectorResult {
  name: string;
  pass: boolean;
  checks: VectorCheck[];
  /** Why the file failed outside a field comparison (bad format, unsupported event). */
  errors: string[];
  /** Informational: fields not asserted by the reference test, state mismatches. */
  notes: string[];
}

/** A vector file could not be interpreted. */
export class VectorFormatError extends ChainLayerError {
  override name = "VectorFormatError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(x: Json | undefined): x is JsonObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function num(x: Json | undefined, what: string): number {
  if (typeof x !== "number") throw new VectorFormatError(`${what} is not a number`);
  return x;
}

function optNum(x: Json | undefined, fallback: number): number {
  return typeof x === "number" ? x : fallback;
}

function toBig(x: Json | undefined, what: string): bigint {
  if (typeof x === "number" && Number.isFinite(x)) return BigInt(Math.floor(x));
  if (typeof x === "string" && /^\d+$/.test(x)) return BigInt(x);
  throw new VectorFormatError(`${what} is not an integer`);
}

function rowOf(x: Json | undefined, what: string): Array<[number, number]> {
  if (!Array.isArray(x)) throw new VectorFormatError(`${what} is not a row of [uid, value] pairs`);
  return x.map((pair, k) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new VectorFormatError(`${what}[${k}] is not a pair`);
    return [num(pair[0], `${what}[${k}][0]`), num(pair[1], `${what}[${k}][1]`)];
  });
}

/** A u16 fraction from a field that may hold the u16 or a float in [0, 1]. */
function u16Fraction(stored: Json | undefined, value: Json | undefined, fallback: number): number {
  if (typeof stored === "number") return stored;
  if (typeof value !== "number") return fallback;
  return Number.isInteger(value) && value > 1 ? value : Math.floor(value * 65535);
}

/** Hyperparameters of a scenario file, with subtensor's defaults where a field is absent. */
export function hyperparametersFromVector(hp: JsonObject): YumaHyperparameters {
  const tempo = optNum(hp.tempo, 360);
  const cutoff =
    typeof hp.activity_cutoff_blocks_effective === "number"
      ? hp.activity_cutoff_blocks_effective
      : activityCutoffBlocks(optNum(hp.activity_cutoff_factor_milli, 13889), tempo);
  return {
    kappa: optNum(hp.kappa, 32767),
    bondsMovingAverage: optNum(hp.bonds_moving_average, 900000),
    bondsPenalty: optNum(hp.bonds_penalty, 65535),
    liquidAlphaEnabled: hp.liquid_alpha_enabled === true,
    alphaLow: u16Fraction(hp.alpha_low_u16_stored, hp.alpha_low, 45875),
    alphaHigh: u16Fraction(hp.alpha_high_u16_stored, hp.alpha_high, 58982),
    alphaSigmoidSteepness: optNum(hp.alpha_sigmoid_steepness, 1000),
    yuma3Enabled: hp.yuma3_enabled === true,
    maxAllowedValidators: optNum(hp.max_allowed_validators, 64),
    activityCutoff: cutoff,
    tempo,
    stakeThreshold: toBig(hp.stake_threshold ?? 0, "stake_threshold"),
  };
}

/** Tolerance for `field`: epoch-level first, then file-level; "exact equality" and absence mean 0. */
function toleranceFor(field: string, epoch: JsonObject, file: JsonObject): number {
  for (const t of [epoch.tolerance, file.tolerance]) {
    if (typeof t === "number") return t;
    if (isObject(t)) {
      const direct = t[field];
      if (typeof direct === "number") return direct;
      if (field.includes("emission") && typeof t.absolute_rao === "number") return t.absolute_rao;
    }
    if (typeof t === "string" && /exact/i.test(t)) return 0;
  }
  return 0;
}

/** Expected per-uid values given either as an array by uid or as {uid: value}. */
function perUid(expected: Json, what: string): Array<[number, Json]> {
  if (Array.isArray(expected)) return expected.map((v, i) => [i, v]);
  if (isObject(expected)) return Object.entries(expected).map(([k, v]) => [Number(k), v]);
  throw new VectorFormatError(`${what} is neither an array nor an object by uid`);
}

function bondAt(out: EpochOutput, i: number, j: number): number {
  const row = out.bonds[i];
  if (row === undefined) return Number.NaN;
  for (let t = 0; t < row.uids.length; t++) if (row.uids[t] === j) return row.values[t] as number;
  return 0;
}

const U16_FIELDS: Record<string, keyof EpochOutput> = {
  consensus_u16: "consensus",
  incentive_u16: "incentive",
  dividends_u16: "dividends",
  validator_trust_u16: "validatorTrust",
  rank_u16: "rank",
  trust_u16: "trust",
  pruning_scores_u16: "pruningScores",
  stake_weight_u16: "stakeWeight",
};

const FLOAT_FIELDS: Record<string, keyof EpochOutput> = {
  consensus: "consensus",
  incentive: "incentive",
  dividends: "dividends",
  validator_trust: "validatorTrust",
};

const RAO_FIELDS: Record<string, keyof EpochOutput> = {
  emission: "emission",
  server_emission: "serverEmission",
  validator_emission: "validatorEmission",
};

const BOOL_FIELDS: Record<string, keyof EpochOutput> = {
  validator_permit: "validatorPermits",
  validator_permits: "validatorPermits",
  active: "active",
};

/** Accumulates |actual − expected| over a field and remembers the first misses. */
class FieldComparison {
  worst = 0;
  misses: string[] = [];
  constructor(readonly tolerance: number) {}
  add(where: string, actual: number, expected: number): void {
    const err =
      Number.isNaN(actual) || Number.isNaN(expected) ? Number.POSITIVE_INFINITY : Math.abs(actual - expected);
    if (err > this.worst) this.worst = err;
    if (err > this.tolerance && this.misses.length < 5)
      this.misses.push(`${where}: got ${actual}, want ${expected}`);
  }
  result(epoch: string, field: string): VectorCheck {
    const pass = this.worst <= this.tolerance;
    return {
      epoch,
      field,
      worstError: this.worst,
      tolerance: this.tolerance,
      pass,
      ...(pass ? {} : { detail: this.misses.join("; ") }),
    };
  }
}

function compareField(
  field: string,
  expected: Json,
  out: EpochOutput,
  tolerance: number,
  epochLabel: string,
  file: JsonObject,
): VectorCheck {
  const cmp = new FieldComparison(tolerance);
  const u16 = U16_FIELDS[field];
  const float = FLOAT_FIELDS[field];
  const rao = RAO_FIELDS[field];
  const flag = BOOL_FIELDS[field];
  if (u16 !== undefined || float !== undefined) {
    const vec = out[(u16 ?? float) as keyof EpochOutput] as Uint16Array;
    for (const [uid, want] of perUid(expected, field)) {
      const got = vec[uid] ?? Number.NaN;
      cmp.add(`uid ${uid}`, u16 !== undefined ? got : got / 65535, num(want, `${field}[${uid}]`));
    }
  } else if (rao !== undefined) {
    const vec = out[rao] as bigint[];
    for (const [uid, want] of perUid(expected, field)) {
      const got = vec[uid];
      const w = toBig(want, `${field}[${uid}]`);
      cmp.add(`uid ${uid}`, got === undefined ? Number.NaN : Number(got), Number(w));
    }
  } else if (flag !== undefined) {
    const vec = out[flag] as boolean[];
    for (const [uid, want] of perUid(expected, field)) {
      if (typeof want !== "boolean") throw new VectorFormatError(`${field}[${uid}] is not a boolean`);
      const got = vec[uid];
      cmp.add(`uid ${uid}`, got === undefined ? Number.NaN : Number(got), Number(want));
    }
  } else if (field === "bonds_u16") {
    if (!Array.isArray(expected)) throw new VectorFormatError("bonds_u16 is not a list of [row, col, value]");
    for (const cell of expected) {
      if (!Array.isArray(cell) || cell.length !== 3)
        throw new VectorFormatError("bonds_u16 cell is not a triple");
      const [i, j, v] = [num(cell[0], "row"), num(cell[1], "col"), num(cell[2], "value")];
      cmp.add(`bond ${i}->${j}`, bondAt(out, i, j), v);
    }
  } else if (field === "bonds_u16_column") {
    if (!isObject(expected)) throw new VectorFormatError("bonds_u16_column is not {column: values by row}");
    for (const [col, values] of Object.entries(expected)) {
      for (const [i, v] of perUid(values, `bonds_u16_column[${col}]`)) {
        cmp.add(`bond ${i}->${col}`, bondAt(out, i, Number(col)), num(v, "bond value"));
      }
    }
  } else if (field === "bonds_target" || field === "bonds") {
    // Float bonds by validator row over the file's `bonds_target_columns`.
    const columns = file.bonds_target_columns;
    if (!Array.isArray(expected) || !Array.isArray(columns)) {
      throw new VectorFormatError(`${field} needs rows of floats and bonds_target_columns`);
    }
    const validators = validatorUids(file);
    expected.forEach((row, r) => {
      const uid = validators[r];
      if (!Array.isArray(row) || uid === undefined)
        throw new VectorFormatError(`${field} row ${r} has no validator`);
      row.forEach((v, k) => {
        const col = num(columns[k], "bonds_target_columns entry");
        cmp.add(`bond ${uid}->${col}`, bondAt(out, uid, col) / 65535, num(v, "bond"));
      });
    });
  } else if (field === "sum_over_hotkeys_of_server_plus_validator_emission") {
    let total = 0n;
    for (let i = 0; i < out.serverEmission.length; i++) {
      total += (out.serverEmission[i] as bigint) + (out.validatorEmission[i] as bigint);
    }
    cmp.add("sum", Number(total), Number(toBig(expected, field)));
  } else {
    throw new VectorFormatError(`unknown expected field '${field}'`);
  }
  return cmp.result(epochLabel, field);
}

function validatorUids(file: JsonObject): number[] {
  const neurons = Array.isArray(file.neurons) ? file.neurons : [];
  const uids: number[] = [];
  for (const nn of neurons) if (isObject(nn) && nn.role === "validator") uids.push(num(nn.uid, "uid"));
  return uids;
}

/** Mutable chain state a scenario carries from one epoch call to the next. */
interface ScenarioState {
  stake: bigint[];
  blockAtRegistration: number[];
  lastUpdate: number[];
  weights: Map<number, Array<[number, number]>>;
  bonds: Row[];
  permits: boolean[];
}

function uidsOf(event: JsonObject, what: string): number[] {
  const list = Array.isArray(event.uids) ? event.uids : [event.uid ?? null];
  return list.map((u) => num(u, `${what} uid`));
}

/** Apply one `events_before_epoch` entry. `hp` is the scenario's hyperparameter JSON (mutable). */
function applyEvent(state: ScenarioState, event: JsonObject, hp: JsonObject): void {
  switch (event.type) {
    case "add_stake":
    case "remove_stake": {
      const amount = toBig(event.amount_each ?? event.amount, `${event.type} amount`);
      for (const uid of uidsOf(event, event.type)) {
        const now = state.stake[uid] ?? 0n;
        state.stake[uid] = event.type === "add_stake" ? now + amount : now > amount ? now - amount : 0n;
      }
      return;
    }
    case "set_stake":
      for (const uid of uidsOf(event, "set_stake"))
        state.stake[uid] = toBig(event.stake ?? event.amount, "stake");
      return;
    case "advance_blocks_without_epoch":
      return;
    case "set_weights": {
      const uid = num(event.uid, "set_weights uid");
      state.weights.set(uid, maxUpscaleRow(rowOf(event.weights, "set_weights weights")));
      if (typeof event.at_block === "number") state.lastUpdate[uid] = event.at_block;
      return;
    }
    case "reset_bonds":
      // Bonds pointing at the uid are cleared (subtensor's bonds reset for a miner).
      for (const uid of uidsOf(event, "reset_bonds")) {
        state.bonds = state.bonds.map((row) => unpackRow(row).filter(([j]) => j !== uid));
      }
      return;
    case "set_hyperparameter":
    case "set_hyperparameters": {
      const values = isObject(event.values) ? event.values : { [String(event.name)]: event.value ?? null };
      Object.assign(hp, values);
      return;
    }
    case "replace_neuron": {
      const uid = num(event.uid, "replace_neuron uid");
      const at = num(event.at_block, "replace_neuron at_block");
      state.stake[uid] = toBig(event.new_stake ?? 0, "new_stake");
      state.blockAtRegistration[uid] = at;
      state.lastUpdate[uid] = at;
      state.weights.delete(uid);
      state.bonds[uid] = [];
      // The replaced uid's incoming weights are zeroed (the files' stored weights show this too).
      for (const row of state.weights.values()) for (const cell of row) if (cell[0] === uid) cell[1] = 0;
      return;
    }
    default:
      throw new VectorFormatError(`unsupported event type '${String(event.type)}'`);
  }
}

function applyWeightsRule(state: ScenarioState, rule: JsonObject, block: number): void {
  const validators = Array.isArray(rule.validators) ? rule.validators.map((v) => num(v, "validator")) : [];
  const servers = Array.isArray(rule.servers) ? rule.servers.map((v) => num(v, "server")) : [];
  const sets = isObject(rule.each_validator_sets) ? rule.each_validator_sets : {};
  if (sets.targets !== undefined && !/all servers/.test(String(sets.targets))) {
    throw new VectorFormatError(`unsupported weights_rule targets '${String(sets.targets)}'`);
  }
  const value = num(sets.value_each ?? null, "weights_rule value_each");
  for (const v of validators) {
    const row = maxUpscaleRow(servers.map((s) => [s, value] as [number, number]));
    state.weights.set(v, row);
    state.lastUpdate[v] = block;
  }
  if (rule.servers_set_self_weight === true) {
    for (const s of servers) {
      state.weights.set(s, [[s, 65535]]);
      state.lastUpdate[s] = block;
    }
  }
}

function checkScenario(name: string, file: JsonObject): VectorResult {
  const result: VectorResult = { name, pass: true, checks: [], errors: [], notes: [] };
  const neurons = file.neurons;
  const epochs = file.epochs;
  if (!Array.isArray(neurons) || !Array.isArray(epochs))
    throw new VectorFormatError("needs neurons and epochs");
  const hpJson: JsonObject = { ...(isObject(file.hyperparameters) ? file.hyperparameters : {}) };
  const emission = toBig(file.rao_emission_per_epoch ?? 1_000_000_000, "rao_emission_per_epoch");
  const n = neurons.length;
  const state: ScenarioState = {
    stake: [],
    blockAtRegistration: [],
    lastUpdate: [],
    weights: new Map(),
    bonds: Array.from({ length: n }, () => []),
    permits: new Array<boolean>(n).fill(false),
  };
  neurons.forEach((nn, i) => {
    if (!isObject(nn) || nn.uid !== i) throw new VectorFormatError(`neurons[${i}] is not uid ${i}`);
    state.stake[i] = toBig(nn.stake ?? 0, `neurons[${i}].stake`);
    state.blockAtRegistration[i] = optNum(nn.block_at_registration, 0);
    state.lastUpdate[i] = state.blockAtRegistration[i] as number;
  });

  epochs.forEach((ep, k) => {
    if (!isObject(ep)) throw new VectorFormatError(`epochs[${k}] is not an object`);
    const label = `#${k} ${typeof ep.label === "string" ? ep.label : ""}`.trim();
    const block = num(ep.block, `epochs[${k}].block`);
    for (const ev of Array.isArray(ep.events_before_epoch) ? ep.events_before_epoch : []) {
      if (!isObject(ev)) throw new VectorFormatError("event is not an object");
      applyEvent(state, ev, hpJson);
    }
    if (isObject(ep.hyperparameters)) Object.assign(hpJson, ep.hyperparameters);
    const hp = hyperparametersFromVector(hpJson);
    const setAt = isObject(ep.weights_set_at_block) ? ep.weights_set_at_block : {};
    if (isObject(ep.weights_set)) {
      for (const [uid, row] of Object.entries(ep.weights_set)) {
        const u = Number(uid);
        state.weights.set(u, maxUpscaleRow(rowOf(row, `weights_set[${uid}]`)));
        state.lastUpdate[u] = optNum(setAt[uid], block);
      }
    } else if (typeof ep.weights_set === "string") {
      if (!isObject(file.weights_rule))
        throw new VectorFormatError("weights_set refers to a missing weights_rule");
      applyWeightsRule(state, file.weights_rule, block);
    }
    if (isObject(ep.weights_stored)) {
      state.weights = new Map(
        Object.entries(ep.weights_stored).map(([uid, row]) => [
          Number(uid),
          rowOf(row, `weights_stored[${uid}]`),
        ]),
      );
    }
    // Explicit state wins over the replay (it is the file author's view of the chain).
    const st = isObject(ep.state) ? ep.state : {};
    const arrays: Array<[Json | undefined, (v: Json, i: number) => void]> = [
      [st.stake, (v, i) => (state.stake[i] = toBig(v, `state.stake[${i}]`))],
      [st.last_update, (v, i) => (state.lastUpdate[i] = num(v, `state.last_update[${i}]`))],
      [st.block_at_registration, (v, i) => (state.blockAtRegistration[i] = num(v, "block_at_registration"))],
    ];
    for (const [values, assign] of arrays) {
      if (!Array.isArray(values)) continue;
      values.forEach((v, i) => {
        assign(v, i);
      });
    }
    if (Array.isArray(st.validator_permits_in_effect)) {
      const given = st.validator_permits_in_effect.map((p) => p === true);
      if (given.some((p, i) => p !== state.permits[i])) {
        result.notes.push(`${label}: state permits differ from the replayed ones; using the state's`);
      }
      state.permits = given;
    }

    const out = runEpoch({
      block,
      stake: state.stake,
      weights: Array.from({ length: n }, (_, i) => state.weights.get(i)),
      bonds: state.bonds,
      lastUpdate: state.lastUpdate,
      blockAtRegistration: state.blockAtRegistration,
      validatorPermits: state.permits,
      emission,
      hyperparameters: hp,
    });

    const expected = isObject(ep.expected) ? ep.expected : {};
    const asserted = isObject(ep.asserted) ? ep.asserted : {};
    for (const [field, want] of Object.entries(expected)) {
      if (asserted[field] === false) {
        const check = compareField(field, want, out, Number.POSITIVE_INFINITY, label, file);
        result.notes.push(
          `${label}: ${field} not asserted by the reference test (worst error ${fmt(check.worstError)})`,
        );
        continue;
      }
      const check = compareField(field, want, out, toleranceFor(field, ep, file), label, file);
      result.checks.push(check);
      if (!check.pass) result.pass = false;
    }
    state.bonds = out.bonds;
    state.permits = out.validatorPermits;
  });
  return result;
}

/** The dense `compute_bonds` unit check: liquid alpha with low = high against liquid alpha off. */
function checkComputeBonds(name: string, file: JsonObject): VectorResult {
  const result: VectorResult = { name, pass: true, checks: [], errors: [], notes: [] };
  const inputs = isObject(file.inputs) ? file.inputs : {};
  const expected = isObject(file.expected) ? file.expected : {};
  const relation = String(expected.relation ?? "");
  if (!/liquid on\) == compute_bonds\(liquid off\)/.test(relation)) {
    throw new VectorFormatError(`unsupported relation '${relation}'`);
  }
  const matrix = (x: Json | undefined, what: string): number[][] => {
    if (!Array.isArray(x)) throw new VectorFormatError(`${what} is not a matrix`);
    return x.map((row) => (Array.isArray(row) ? row.map((v) => num(v, what)) : []));
  };
  const w = matrix(inputs.weights, "weights");
  const b = matrix(inputs.bonds, "bonds");
  const cons = Array.isArray(inputs.consensus) ? inputs.consensus.map((v) => num(v, "consensus")) : [];
  const cols = w[0]?.length ?? 0;
  const flat = (m: number[][]) => Float64Array.from(m.flat(), (v) => fxFromFloat(v));
  const hp = hyperparametersFromVector({
    ...(isObject(file.hyperparameters) ? file.hyperparameters : {}),
    liquid_alpha_enabled: false,
  });
  const consensus = cons.map((v) => fxFromFloat(v));
  const on = computeBondsYuma3(flat(w), flat(b), consensus, cols, { ...hp, liquidAlphaEnabled: true });
  const off = computeBondsYuma3(flat(w), flat(b), consensus, cols, { ...hp, liquidAlphaEnabled: false });
  const cmp = new FieldComparison(num(expected.tolerance ?? 0, "tolerance"));
  for (let i = 0; i < on.length; i++)
    cmp.add(`cell ${i}`, (on[i] as number) / FX_ONE, (off[i] as number) / FX_ONE);
  const check = cmp.result("compute_bonds", "liquid on vs off");
  result.checks.push(check);
  result.pass = check.pass;
  const reference = file.derived_reference_output;
  if (Array.isArray(reference)) {
    const ref = matrix(reference, "derived_reference_output").flat();
    let worst = 0;
    ref.forEach((v, i) => {
      worst = Math.max(worst, Math.abs((off[i] as number) / FX_ONE - v));
    });
    result.notes.push(`derived_reference_output (not asserted): worst error ${fmt(worst)}`);
  }
  return result;
}

function fmt(x: number): string {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1 ? String(x) : x.toPrecision(3);
}

/**
 * Check one parsed vector document. Never throws: a format problem is a failed result.
 *
 * @example checkVector("test_1_graph.json", JSON.parse(text)).pass
 */
export function checkVector(name: string, doc: unknown): VectorResult {
  try {
    if (!isObject(doc as Json)) throw new VectorFormatError("not a JSON object");
    const file = doc as JsonObject;
    let result: VectorResult;
    if (Array.isArray(file.epochs)) result = checkScenario(name, file);
    else if (isObject(file.inputs) && /compute_bonds/.test(String(file.epoch_function ?? ""))) {
      result = checkComputeBonds(name, file);
    } else throw new VectorFormatError("unrecognised vector format (no epochs, no compute_bonds inputs)");
    // A file that compares nothing is a format we misread, not a pass.
    if (result.checks.length === 0) throw new VectorFormatError("no asserted expected field to compare");
    return result;
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { name, pass: false, checks: [], errors: [message], notes: [] };
  }
}

/** Read and check one vector file. */
export function checkVectorFile(path: string): VectorResult {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { name: basename(path), pass: false, checks: [], errors: [`unreadable: ${message}`], notes: [] };
  }
  return checkVector(basename(path), doc);
}

/** The `.json` files of a folder (sorted), or the path itself when it is a file. */
export function listVectorFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(path, f));
}

/** The check with the largest error relative to its tolerance (the one to print). */
export function worstCheck(result: VectorResult): VectorCheck | undefined {
  let worst: VectorCheck | undefined;
  let worstScore = -1;
  for (const c of result.checks) {
    const score =
      c.tolerance > 0 ? c.worstError / c.tolerance : c.worstError > 0 ? Number.POSITIVE_INFINITY : 0;
    if (worst === undefined || score > worstScore) {
      worst = c;
      worstScore = score;
    }
  }
  return worst;
}

/** One line per file: PASS/FAIL, worst error and its tolerance. */
export function formatVectorResult(result: VectorResult): string {
  const worst = worstCheck(result);
  const head = `${result.pass ? "PASS" : "FAIL"} ${result.name}`;
  if (result.errors.length > 0) return `${head}  error: ${result.errors.join("; ")}`;
  if (worst === undefined) return `${head}  no asserted fields`;
  const where = `worst ${fmt(worst.worstError)} (${worst.field} @ ${worst.epoch}) tolerance ${fmt(worst.tolerance)}`;
  const failed = result.checks.filter((c) => !c.pass);
  const detail = failed.map((c) => `\n    ${c.epoch} ${c.field}: ${c.detail ?? ""}`).join("");
  return `${head}  ${where}  ${result.checks.length} checks${detail}`;
}

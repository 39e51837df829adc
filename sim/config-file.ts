import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";

/** A scenario or sweep file that cannot be read or parsed; the message names the file and why. */
export class ConfigFileError extends Error {
  override name = "ConfigFileError";
}

/**
 * Reads a scenario or sweep file: YAML for `.yaml`/`.yml`, JSON otherwise (YAML is a superset of
 * JSON, but JSON's error messages are the clearer ones for a `.json` file).
 *
 * @example readConfigFile("sim/scenarios/lazy.json")
 */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigFileError(`cannot read ${path}`, { cause });
  }
  const yaml = [".yaml", ".yml"].includes(extname(path).toLowerCase());
  try {
    return yaml ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new ConfigFileError(`${path} is not valid ${yaml ? "YAML" : "JSON"}: ${why}`, { cause });
  }
}

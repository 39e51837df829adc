import { ChainError } from "./errors.js";

/** Subtensor's u128 ip (with its `ipType`) as dotted IPv4 or full IPv6 text. */
export function ipToText(ip: bigint, ipType: number): string {
  if (ipType === 4) {
    return [24, 16, 8, 0].map((shift) => Number((ip >> BigInt(shift)) & 0xffn)).join(".");
  }
  const parts: string[] = [];
  for (let shift = 112; shift >= 0; shift -= 16) parts.push(((ip >> BigInt(shift)) & 0xffffn).toString(16));
  return parts.join(":");
}

/** Parses dotted IPv4 (or full/compressed IPv6) text into subtensor's u128 form. */
export function ipToInteger(ip: string): { ip: bigint; ipType: 4 | 6 } {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.some((o) => o > 255)) throw new ChainError(`invalid IPv4 address ${ip}`);
    return { ip: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), ipType: 4 };
  }
  if (ip.includes(":")) {
    const [head = "", tail = ""] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = ip.includes("::") && tail ? tail.split(":") : [];
    const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
    if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
      throw new ChainError(`invalid IPv6 address ${ip}`);
    }
    return { ip: groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n), ipType: 6 };
  }
  throw new ChainError(`invalid IP address ${ip}`);
}

/**
 * Addresses on a RoCEv2 or IB link: 6-byte MACs, 16-byte GIDs, how a GID becomes a
 * destination MAC, and the UDP source port a RoCEv2 packet carries.
 *
 * GID → MAC, in the order Linux resolves it for RoCE (ib_resolve_eth_dmac):
 *   1. a multicast GID maps to a multicast MAC, as the IP stack maps groups:
 *      IPv6 ff00::/8 → 33:33 + the low 32 bits (RFC 2464 §7); an IPv4-mapped GID of
 *      224.0.0.0/4 → 01:00:5e + the low 23 bits (RFC 1112 §6.4);
 *   2. a link-local GID (fe80::/64) whose interface ID is a modified EUI-64 (ff:fe in its
 *      middle) gives the MAC back: drop ff:fe, flip the universal/local bit (RFC 4291 App. A);
 *   3. anything else is looked up in a neighbour table (what ARP / ND would have filled).
 *
 * UDP source port (entropy for ECMP), as Linux computes it for RoCEv2 (rdma_get_udp_sport,
 * include/rdma/ib_verbs.h): a 20-bit flow label, the path's own if it has one, else folded
 * from the product of the local and remote QP numbers,
 *   v = lqpn × rqpn (48 bits);  fl = (v ⊕ v≫20 ⊕ v≫40) mod 2^20,
 * then folded to 14 bits and put in the range 0xC000–0xFFFF:
 *   sport = 0xC000 | ((fl mod 2^14) ⊕ (fl ≫ 14)).
 * The product makes the port the same in both directions of a connection.
 */

/** a 6-byte Ethernet MAC address */
export type Mac = Uint8Array;
/** a 16-byte GID (an IPv6 address; IPv4 as ::ffff:a.b.c.d) */
export type Gid = Uint8Array;

/** "02:00:00:00:00:01" (or with "-") → 6 bytes */
export function parseMac(text: string): Mac {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new RangeError(`"${text}" is not a MAC address (expected six hex bytes, e.g. 02:00:00:00:00:01)`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: Mac): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * A GID from text: IPv6 ("fe80::1", "ff02::1", "::ffff:10.0.0.1") or a plain IPv4
 * address ("10.0.0.1", made IPv4-mapped). Throws naming the text if it is neither.
 */
export function parseGid(text: string): Gid {
  const s = text.trim();
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return ipv4MappedGid(v4);
  const gid = parseIpv6(s);
  if (gid === undefined) throw new RangeError(`"${text}" is not a GID (an IPv6 address, or IPv4 for an IPv4-mapped GID)`);
  return gid;
}

function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

function parseIpv6(s: string): Gid | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const gid = new Uint8Array(16);
  all.forEach((g, i) => {
    gid[2 * i] = g >>> 8;
    gid[2 * i + 1] = g & 0xff;
  });
  return gid;
}

/** "::ffff:10.0.0.1" for IPv4-mapped GIDs; otherwise eight hex groups with the longest zero run as "::" */
export function formatGid(gid: Gid): string {
  if (isIpv4MappedGid(gid)) {
    const v = gidIpv4(gid);
    return `::ffff:${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g = Array.from({ length: 8 }, (_, i) => (gid[2 * i]! << 8) | gid[2 * i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** ::ffff:a.b.c.d for a 32-bit IPv4 address */
export function ipv4MappedGid(ipv4: number): Gid {
  const gid = new Uint8Array(16);
  gid[10] = 0xff;
  gid[11] = 0xff;
  gid[12] = ipv4 >>> 24;
  gid[13] = (ipv4 >>> 16) & 0xff;
  gid[14] = (ipv4 >>> 8) & 0xff;
  gid[15] = ipv4 & 0xff;
  return gid;
}

/** true for ::ffff:0:0/96: a RoCEv2 GID whose packets travel in IPv4 */
export function isIpv4MappedGid(gid: Gid): boolean {
  for (let i = 0; i < 10; i++) if (gid[i] !== 0) return false;
  return gid[10] === 0xff && gid[11] === 0xff;
}

/** the IPv4 address in an IPv4-mapped GID */
export function gidIpv4(gid: Gid): number {
  return ((gid[12]! << 24) | (gid[13]! << 16) | (gid[14]! << 8) | gid[15]!) >>> 0;
}

/** fe80::/64 */
export function isLinkLocalGid(gid: Gid): boolean {
  if (gid[0] !== 0xfe || (gid[1]! & 0xc0) !== 0x80) return false;
  for (let i = 2; i < 8; i++) if (gid[i] !== 0) return false;
  return true;
}

/** IPv6 multicast (ff00::/8) or IPv4-mapped multicast (224.0.0.0/4) */
export function isMulticastGid(gid: Gid): boolean {
  if (isIpv4MappedGid(gid)) return (gid[12]! & 0xf0) === 0xe0;
  return gid[0] === 0xff;
}

/** the link-local GID of a port with this MAC: fe80:: + modified EUI-64 (RFC 4291 App. A) */
export function linkLocalGid(mac: Mac): Gid {
  const gid = new Uint8Array(16);
  gid[0] = 0xfe;
  gid[1] = 0x80;
  gid[8] = mac[0]! ^ 0x02;
  gid[9] = mac[1]!;
  gid[10] = mac[2]!;
  gid[11] = 0xff;
  gid[12] = 0xfe;
  gid[13] = mac[3]!;
  gid[14] = mac[4]!;
  gid[15] = mac[5]!;
  return gid;
}

/** the MAC inside a link-local GID with a modified EUI-64 interface ID; undefined otherwise */
export function macOfLinkLocalGid(gid: Gid): Mac | undefined {
  if (!isLinkLocalGid(gid) || gid[11] !== 0xff || gid[12] !== 0xfe) return undefined;
  return Uint8Array.of(gid[8]! ^ 0x02, gid[9]!, gid[10]!, gid[13]!, gid[14]!, gid[15]!);
}

/** the multicast MAC of a multicast GID (IPv6 → 33:33:…, IPv4-mapped → 01:00:5e:…) */
export function multicastMac(gid: Gid): Mac {
  if (!isMulticastGid(gid)) throw new RangeError(`${formatGid(gid)} is not a multicast GID`);
  if (isIpv4MappedGid(gid)) return Uint8Array.of(0x01, 0x00, 0x5e, gid[13]! & 0x7f, gid[14]!, gid[15]!);
  return Uint8Array.of(0x33, 0x33, gid[12]!, gid[13]!, gid[14]!, gid[15]!);
}

/** GID → MAC of the unicast neighbours on a link (what ARP or neighbour discovery would learn) */
export class NeighbourTable {
  private readonly byGid = new Map<string, Mac>();

  set(gid: Gid | string, mac: Mac | string): this {
    const g = typeof gid === "string" ? parseGid(gid) : gid;
    const m = typeof mac === "string" ? parseMac(mac) : mac;
    if (m.length !== 6) throw new RangeError(`neighbour ${formatGid(g)}: a MAC has 6 bytes, got ${m.length}`);
    this.byGid.set(key(g), m.slice());
    return this;
  }

  get(gid: Gid): Mac | undefined {
    return this.byGid.get(key(gid));
  }

  delete(gid: Gid): boolean {
    return this.byGid.delete(key(gid));
  }

  get size(): number {
    return this.byGid.size;
  }
}

function key(gid: Gid): string {
  if (gid.length !== 16) throw new RangeError(`a GID has 16 bytes, got ${gid.length}`);
  let s = "";
  for (let i = 0; i < 16; i++) s += String.fromCharCode(gid[i]!);
  return s;
}

/**
 * The destination MAC for `dgid`: multicast mapping, then the MAC in a link-local EUI-64
 * GID, then the neighbour table. Throws naming the GID if none of them knows it.
 */
export function resolveDestMac(dgid: Gid, neighbours?: NeighbourTable): Mac {
  if (isMulticastGid(dgid)) return multicastMac(dgid);
  const ll = macOfLinkLocalGid(dgid);
  if (ll !== undefined) return ll;
  const n = neighbours?.get(dgid);
  if (n !== undefined) return n;
  throw new RangeError(`no MAC for GID ${formatGid(dgid)}: not multicast, not a link-local EUI-64 GID, and not in the neighbour table`);
}

/** RoCEv2 source ports are drawn from 0xC000–0xFFFF (Linux IB_ROCE_UDP_ENCAP_VALID_PORT_MIN) */
export const ROCEV2_SPORT_MIN = 0xc000;
const FLOW_LABEL_MASK = 0xfffff;

/** the 20-bit flow label Linux derives from a local and a remote QP number (rdma_calc_flow_label) */
export function flowLabelFromQpns(localQpn: number, remoteQpn: number): number {
  // The product of two 24-bit numbers fits a double exactly (< 2^48); fold it by 20-bit digits.
  const v = (localQpn & 0xffffff) * (remoteQpn & 0xffffff);
  const d0 = v % 0x100000;
  const d1 = Math.floor(v / 0x100000) % 0x100000;
  const d2 = Math.floor(v / 0x100_0000_0000); // v ≫ 40: below 2^8
  return (d0 ^ d1 ^ d2) & FLOW_LABEL_MASK;
}

/** the UDP source port for a 20-bit flow label (rdma_flow_label_to_udp_sport) */
export function udpSourcePortOfFlowLabel(flowLabel: number): number {
  const fl = flowLabel & FLOW_LABEL_MASK;
  return ROCEV2_SPORT_MIN | ((fl & 0x3fff) ^ (fl >>> 14));
}

/** the RoCEv2 UDP source port: from the path's flow label if non-zero, else from the QP numbers */
export function rocev2SourcePort(localQpn: number, remoteQpn: number, flowLabel = 0): number {
  return udpSourcePortOfFlowLabel(flowLabel !== 0 ? flowLabel : flowLabelFromQpns(localQpn, remoteQpn));
}

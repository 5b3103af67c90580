import { isIP } from 'node:net'

/** proxy-addr's names for address ranges (fastify resolves them). */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/**
 * Which peers may set X-Forwarded-For/-Proto: a hop count (how many proxies
 * stand in front of the gateway; 0 trusts none) or addresses and CIDR
 * ranges. Never "everyone": a client talking to the gateway directly could
 * then choose its own address (and escape the per-address rate limit) and
 * claim https.
 */
export type TrustProxy = number | string[]

/**
 * Parses TRUST_PROXY: empty or a hop count (`0`, `1`, `2`), or a
 * comma-separated list of IPs, CIDRs and proxy-addr's range names
 * (`10.0.0.0/8,loopback`). Throws an Error saying why for anything else,
 * `true` included.
 */
export function parseTrustProxy (value: string): TrustProxy {
  const text = value.trim()
  if (text === '') return 0
  if (/^\d+$/.test(text)) {
    const hops = Number(text)
    if (hops > 10) throw new Error(`TRUST_PROXY: ${hops} hops is not a plausible number of proxies (at most 10)`)
    return hops
  }
  if (/^(true|false|yes|no|on|off|\*)$/i.test(text)) {
    throw new Error(`TRUST_PROXY=${text} is refused: give the number of proxies in front of the gateway (e.g. 1) or their addresses/CIDRs (e.g. 10.0.0.0/8); trusting every peer would let any client choose its address and protocol`)
  }
  return text.split(',').map((part) => {
    const entry = part.trim()
    if (!isTrustedEntry(entry)) throw new Error(`TRUST_PROXY: "${entry}" is not an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`)
    return entry
  })
}

function isTrustedEntry (entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true
  const slash = entry.indexOf('/')
  const address = slash < 0 ? entry : entry.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return false
  if (slash < 0) return true
  const bits = entry.slice(slash + 1)
  if (!/^\d{1,3}$/.test(bits)) return false
  // A zero-length prefix (0.0.0.0/0, ::/0) is "trust everyone" by another name.
  return Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128)
}

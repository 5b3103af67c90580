import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * scrypt password hashes, self-describing so parameters can be raised later
 * without breaking stored hashes: `scrypt$N$r$p$salt$hash` (base64). A hash
 * made with weaker parameters than today's still verifies, and
 * {@link needsRehash} tells the login to store a new one.
 */

/** scrypt cost parameters. */
export interface ScryptParams { N: number, r: number, p: number }

/**
 * Today's parameters: OWASP's minimum for scrypt (N=2^17, r=8, p=1), which
 * costs 128 MiB and a few hundred milliseconds per hash.
 */
export const SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 })
const KEY_LENGTH = 64

/**
 * The most any stored hash may ask for: a corrupted or planted hash with a
 * huge N must fail, not take the process's memory.
 */
const MAX_N = 2 ** 20
const MAX_R = 32
const MAX_P = 16

/** scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is below today's N, so it is raised to what the parameters need. */
function maxmemFor ({ N, r, p }: ScryptParams): number {
  return 128 * N * r + 128 * r * p + 1024 * 1024
}

function derive (password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...params, maxmem: maxmemFor(params) }, (err, key) => {
      if (err) reject(err)
      else resolve(key)
    })
  })
}

/** Parses a stored hash; undefined when it is not one this module could have written. */
function parse (stored: string): { params: ScryptParams, salt: Buffer, hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash || rest.length > 0) return undefined
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  const powerOfTwo = Number.isSafeInteger(params.N) && params.N > 1 && (params.N & (params.N - 1)) === 0
  if (!powerOfTwo || params.N > MAX_N) return undefined
  if (!Number.isSafeInteger(params.r) || params.r < 1 || params.r > MAX_R) return undefined
  if (!Number.isSafeInteger(params.p) || params.p < 1 || params.p > MAX_P) return undefined
  return { params, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }
}

/** Hashes a password with a fresh salt and {@link SCRYPT_PARAMS} (or `params`, for tests of old hashes). */
export async function hashPassword (password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** Whether `password` is the one `stored` was made from, with the parameters `stored` names. */
export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored)
  if (!parsed) return false
  const key = await derive(password, parsed.salt, parsed.params)
  return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash)
}

/**
 * Whether a stored hash is weaker than `params` (today's, by default) or
 * unreadable: after a successful login, the password is hashed again and
 * stored.
 */
export function needsRehash (stored: string, params: ScryptParams = SCRYPT_PARAMS): boolean {
  const parsed = parse(stored)
  if (!parsed) return true
  const { N, r, p } = parsed.params
  return N < params.N || r < params.r || p < params.p || parsed.hash.length < KEY_LENGTH
}

/**
 * A hash to check against when the user doesn't exist, made with the
 * parameters in use so an unknown login costs exactly what a known one
 * does and timing doesn't reveal which it was.
 */
export function dummyHashFor (params: ScryptParams): string {
  return ['scrypt', params.N, params.r, params.p, Buffer.alloc(16).toString('base64'), Buffer.alloc(KEY_LENGTH).toString('base64')].join('$')
}

/** {@link dummyHashFor} today's parameters. */
export const DUMMY_HASH = dummyHashFor(SCRYPT_PARAMS)

/** scrypt's parameters for a cost of N = 2^log2N (r=8, p=1). */
export function scryptParamsFor (log2N: number): ScryptParams {
  return { N: 2 ** log2N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p }
}

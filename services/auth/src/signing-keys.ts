import type { Collection, Db } from 'mongodb'
import type { Jwks, PublicJwk } from '@chat/contracts'
import { generateSigningKey, importSigningKey, isDuplicateKeyError, type Logger, type SigningKey } from '@chat/runtime'

/**
 * A signing key as stored in `signing_keys`. Generated keys (`_id`
 * `generated:<n>`) keep their private key here so every replica signs with
 * the same one; the newest generation is the active one. A configured key
 * (`configured:<kid>`) is stored without its private key, only so its
 * public key stays published after the configuration moves on.
 */
export interface SigningKeyDoc {
  _id: string
  kid: string
  publicJwk: PublicJwk
  /** PKCS#8 PEM; generated keys only. */
  privateKey?: string
  /** Generated keys only: 1, 2, … ; the highest is active. */
  generation?: number
  createdAt: Date
  /**
   * Until when tokens signed with this key may still be unexpired: each
   * replica signing with it pushes this to now + token TTL + two refresh
   * intervals. Past it, the key is no longer published.
   */
  validUntil: Date
}

const generatedId = (generation: number) => `generated:${generation}`

/** The active generated key: the highest generation. */
function newestGenerated (docs: SigningKeyDoc[]): SigningKeyDoc | undefined {
  let best: SigningKeyDoc | undefined
  for (const d of docs) {
    if (d.generation !== undefined && d.privateKey !== undefined && (best === undefined || d.generation > (best.generation ?? 0))) best = d
  }
  return best
}

/**
 * Adds the next generated key (the first on a fresh database). Concurrent
 * callers converge: the generation's `_id` is unique and inserts are atomic
 * (FerretDB's updates are not), so a loser reads the winner's key back.
 */
export async function addGeneratedKey (col: Collection<SigningKeyDoc>, generation: number, validForMs: number): Promise<SigningKeyDoc> {
  const key = await generateSigningKey()
  const now = new Date()
  const doc: SigningKeyDoc = {
    _id: generatedId(generation),
    kid: key.kid,
    publicJwk: key.publicJwk,
    privateKey: key.pem,
    generation,
    createdAt: now,
    validUntil: new Date(now.getTime() + validForMs),
  }
  try {
    await col.insertOne(doc)
    return doc
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err
    const winner = await col.findOne({ _id: doc._id })
    if (!winner) throw err
    return winner
  }
}

/** The `signing_keys` collection of a database. */
export function signingKeysCollection (db: Db): Collection<SigningKeyDoc> {
  return db.collection<SigningKeyDoc>('signing_keys')
}

/** Reads every stored key; the collection holds a handful of documents. */
export async function readKeys (col: Collection<SigningKeyDoc>): Promise<SigningKeyDoc[]> {
  return await col.find({}).toArray()
}

/**
 * The auth service's signing keys. The active key is the configured one
 * (TOKEN_PRIVATE_KEY[_FILE]) if any, else the newest generated one in
 * MongoDB, made on the first start of a fresh deployment. Every key whose
 * tokens may still be unexpired is published, so rotating logs nobody out.
 */
export class SigningKeys {
  private readonly col: Collection<SigningKeyDoc>
  private activeKey: SigningKey | undefined
  private published: Jwks = { keys: [] }
  private timer: NodeJS.Timeout | undefined
  private reloading: Promise<void> | undefined
  private loadedAt = 0

  constructor (db: Db, private readonly opts: {
    /** The configured key; undefined to use (or make) a generated one. */
    configured?: SigningKey
    tokenTtlSeconds: number
    refreshMs: number
    logger: Logger
    /** Called when the published key ids change (after the first load too). */
    onChange: (jwks: Jwks) => void
  }) {
    this.col = signingKeysCollection(db)
  }

  /** How long a key stays published after a replica last signed with it. */
  private get validForMs (): number {
    return this.opts.tokenTtlSeconds * 1000 + 2 * this.opts.refreshMs
  }

  /** The key new tokens are signed with. */
  get active (): SigningKey {
    if (!this.activeKey) throw new Error('signing keys not loaded')
    return this.activeKey
  }

  /** The published keys, as last loaded. */
  get jwks (): Jwks {
    return this.published
  }

  /** Loads (or on a fresh database makes) the keys, then re-reads them every refreshMs. */
  async start (): Promise<void> {
    const configured = this.opts.configured
    if (configured) {
      const now = new Date()
      await this.col.insertOne({
        _id: `configured:${configured.kid}`,
        kid: configured.kid,
        publicJwk: configured.publicJwk,
        createdAt: now,
        validUntil: new Date(now.getTime() + this.validForMs),
      }).catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err
      })
    } else if (!newestGenerated(await readKeys(this.col))) {
      const doc = await addGeneratedKey(this.col, 1, this.validForMs)
      this.opts.logger.info({ kid: doc.kid }, 'using the signing key generated on first start')
    }
    await this.reload()
    this.timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.opts.logger.warn({ err }, 'could not reload the signing keys'))
    }, this.opts.refreshMs)
    this.timer.unref()
  }

  /** Re-reads the keys: picks up a rotation, marks the active key in use, forgets expired ones. */
  reload (): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined
    })
    return this.reloading
  }

  /** Reloads unless the keys were read within `maxAgeMs` (auth.jwks: gateways may ask often). */
  async fresh (maxAgeMs: number): Promise<Jwks> {
    if (Date.now() - this.loadedAt > maxAgeMs) await this.reload()
    return this.published
  }

  private async load (): Promise<void> {
    const started = Date.now()
    const docs = await readKeys(this.col)
    const active = this.opts.configured ?? await this.generatedActive(docs)
    const validUntil = new Date(Date.now() + this.validForMs)
    const activeId = this.opts.configured ? `configured:${active.kid}` : generatedId(newestGenerated(docs)?.generation ?? 1)
    await this.col.updateOne({ _id: activeId }, { $max: { validUntil } })
    const now = Date.now()
    const live: PublicJwk[] = [active.publicJwk]
    for (const d of docs) {
      if (d.kid === active.kid) continue
      if (d.validUntil.getTime() > now) live.push(d.publicJwk)
      else if (d._id !== activeId) {
        // Its tokens have all expired. Deleted by _id (FerretDB scans on any other filter).
        await this.col.deleteOne({ _id: d._id })
      }
    }
    const changed = this.activeKey?.kid !== active.kid || kidsOf(this.published) !== kidsOf({ keys: live })
    if (this.activeKey && this.activeKey.kid !== active.kid) this.opts.logger.info({ kid: active.kid, previous: this.activeKey.kid }, 'signing with a new key')
    this.activeKey = active
    this.published = { keys: live }
    this.loadedAt = started
    if (changed) this.opts.onChange(this.published)
  }

  private async generatedActive (docs: SigningKeyDoc[]): Promise<SigningKey> {
    const doc = newestGenerated(docs)
    if (!doc?.privateKey) throw new Error('no generated signing key in MongoDB')
    if (this.activeKey?.kid === doc.kid) return this.activeKey
    return await importSigningKey(doc.privateKey)
  }

  /** Stops re-reading. */
  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.reloading?.catch((err: unknown) => this.opts.logger.warn({ err }, 'signing key reload failed while stopping'))
  }
}

function kidsOf (jwks: Jwks): string {
  return jwks.keys.map((k) => k.kid).sort().join(',')
}

import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/**
 * A Lua script run by its SHA1 (EVALSHA), sending the source (EVAL) only
 * when the server does not know it yet, e.g. after a restart or SCRIPT
 * FLUSH. ioredis applies its keyPrefix to the `keys` given here, never to
 * key names a script builds itself.
 */
export class LuaScript {
  readonly sha: string

  constructor (readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run (redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!isNoScript(err)) throw err
      return await redis.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

function isNoScript (err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

import { MongoClient, type Db } from 'mongodb'

export type { Db }

/** Opens one MongoDB client per process; the caller closes it last on shutdown. */
export async function connectMongo (url: string, dbName: string, appName: string): Promise<{ client: MongoClient, db: Db }> {
  const client = new MongoClient(url, { appName, serverSelectionTimeoutMS: 10000 })
  await client.connect()
  return { client, db: client.db(dbName) }
}

/** Readiness probe for MongoDB. */
export async function pingMongo (db: Db): Promise<boolean> {
  try {
    await db.command({ ping: 1 }, { timeoutMS: 2000 })
    return true
  } catch {
    return false
  }
}

/**
 * A unique index refused a write. MongoDB says so with code 11000; FerretDB
 * does too on inserts, but on updates reports its SQL backend's constraint
 * error under a generic code, so that message is recognised as well.
 */
export function isDuplicateKeyError (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  return code === 11000 || (typeof message === 'string' && /UNIQUE constraint failed|duplicate key/i.test(message))
}

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

/** MongoDB's duplicate-key error, as raised by unique indexes. */
export function isDuplicateKeyError (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000
}

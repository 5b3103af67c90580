import { MongoClient, type Collection, type Db, type Document, type Filter, type FindOptions, type WithId } from 'mongodb'

export type { Db }

/** Opens one MongoDB client per process; the caller closes it last on shutdown. */
export async function connectMongo (url: string, dbName: string, appName: string): Promise<{ client: MongoClient, db: Db }> {
  const client = new MongoClient(url, { appName, serverSelectionTimeoutMS: 10000 })
  await client.connect()
  return { client, db: client.db(dbName) }
}

/**
 * Readiness probe for MongoDB: true when the server answers a ping within
 * `timeoutMs` (the driver gives up then, server selection included, so no
 * probe waits for a server that is gone).
 */
export async function pingMongo (db: Db, timeoutMs: number): Promise<boolean> {
  try {
    await db.command({ ping: 1 }, { timeoutMS: timeoutMs })
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

/**
 * Up to this many values are looked up one equality query each, in
 * parallel, rather than with one `$in`: FerretDB v1 passes a plain equality
 * down to its SQL database but not `$in`, for which it reads the whole
 * collection and filters it itself (with a few thousand users, a room
 * join's one-name lookup kept FerretDB's CPU busy). MongoDB answers either
 * from the index.
 */
export const FEW_VALUES = 8

/**
 * The documents whose `field` is one of `values` (each at most once, in no
 * particular order): equality queries for a few values, one `$in` for more.
 */
export async function findWhereIn<T extends Document> (
  collection: Collection<T>, field: string, values: readonly unknown[], options: FindOptions = {}
): Promise<Array<WithId<T>>> {
  const unique = [...new Set(values)]
  if (unique.length === 0) return []
  if (unique.length > FEW_VALUES) return collection.find({ [field]: { $in: unique } } as Filter<T>, options).toArray()
  const found = await Promise.all(unique.map((value) => collection.find({ [field]: value } as Filter<T>, options).toArray()))
  return found.flat()
}

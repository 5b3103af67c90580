import { isDuplicateKeyError } from '@chat/runtime'

/**
 * Runs an upsert, trying once more when it loses a race: two concurrent
 * upserts of the same new document may both try to insert, and MongoDB can
 * answer the loser with a duplicate-key error (the retry then finds the
 * document and updates it). FerretDB serialises writes, so there it never
 * fires; it is here for production MongoDB.
 */
export async function retryOnDuplicate<T> (op: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await op()
    } catch (err) {
      if (i >= attempts || !isDuplicateKeyError(err)) throw err
    }
  }
}

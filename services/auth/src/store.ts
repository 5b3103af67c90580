import type { Collection, Db, Document } from 'mongodb'
import { ChatError, type OwnUser, type PublicUser, type UserName } from '@chat/contracts'
import { findWhereIn, isDuplicateKeyError } from '@chat/runtime'

/** A user as stored. `_id` is the public user id. */
export interface UserDoc {
  _id: number
  username: string
  /** Lower-cased username; unique, so names are unique case-insensitively. */
  usernameKey: string
  email: string
  passwordHash: string
  nickname: string
  avatar: string
  createdAt: Date
  updatedAt: Date
}

/**
 * Claims an e-mail address for a user. E-mail is optional, and a unique index
 * over an optional field is not portable across MongoDB-wire servers, so
 * claims live in their own collection keyed by the address.
 */
interface EmailClaim {
  _id: string
  userId: number
}

export function emailKey (email: string): string {
  return email.trim().toLowerCase()
}

export function usernameKey (username: string): string {
  return username.normalize('NFC').toLowerCase()
}

export function toOwnUser (doc: UserDoc): OwnUser {
  return {
    id: doc._id,
    username: doc.username,
    nickname: doc.nickname,
    avatar: doc.avatar,
    email: doc.email,
    createdAt: doc.createdAt.toISOString(),
  }
}

export function toPublicUser (doc: UserDoc): PublicUser {
  return { id: doc._id, username: doc.username, nickname: doc.nickname, avatar: doc.avatar }
}

export function toUserName (doc: Pick<UserDoc, '_id' | 'username' | 'nickname'>): UserName {
  return { id: doc._id, username: doc.username, nickname: doc.nickname }
}

/** The fields toUserName reads: avatars are never loaded for names. */
export const NAME_FIELDS = { _id: 1, username: 1, nickname: 1 } as const

/** The auth service's MongoDB collections. */
export class UserStore {
  readonly users: Collection<UserDoc>
  private readonly emails: Collection<EmailClaim>

  constructor (db: Db) {
    this.users = db.collection<UserDoc>('users')
    this.emails = db.collection<EmailClaim>('user_emails')
  }

  async init (): Promise<void> {
    await this.users.createIndex({ usernameKey: 1 }, { unique: true, name: 'username_unique' })
  }

  byId (id: number): Promise<UserDoc | null> {
    return this.users.findOne({ _id: id })
  }

  /** Finds by username, or by e-mail address when the login contains one. */
  async byLogin (login: string): Promise<UserDoc | null> {
    const user = await this.users.findOne({ usernameKey: usernameKey(login) })
    if (user || !login.includes('@')) return user
    const claim = await this.emails.findOne({ _id: emailKey(login) })
    return claim ? this.users.findOne({ _id: claim.userId }) : null
  }

  async byIds (ids: number[], projection?: Document): Promise<UserDoc[]> {
    return findWhereIn(this.users, '_id', ids, { projection })
  }

  async byUsernames (names: string[], projection?: Document): Promise<UserDoc[]> {
    return findWhereIn(this.users, 'usernameKey', names.map(usernameKey), { projection })
  }

  /**
   * Users whose `usernameKey` matches `pattern` (an escaped, lower-cased
   * search text: see search.ts), in `usernameKey` order, skipping `skip` and
   * returning at most `limit`. The unique index on `usernameKey` serves both
   * the match and the order: MongoDB tests an unanchored pattern against the
   * index keys (a scan of the index, not of the documents) in index order
   * and stops once it has skip+limit matches, so no sort happens in memory.
   * Only matching documents are fetched.
   */
  search (pattern: string, skip: number, limit: number): Promise<UserDoc[]> {
    return this.users
      .find({ usernameKey: { $regex: pattern } })
      .sort({ usernameKey: 1 })
      .skip(skip)
      .limit(limit)
      .toArray()
  }

  /**
   * Claims an address for a user. A claim left behind by a registration that
   * failed half-way (its user doesn't exist) is taken over.
   */
  async claimEmail (email: string, userId: number): Promise<void> {
    const key = emailKey(email)
    try {
      await this.emails.insertOne({ _id: key, userId })
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err
      const claim = await this.emails.findOne({ _id: key })
      if (claim?.userId === userId) return
      if (claim && await this.users.countDocuments({ _id: claim.userId }, { limit: 1 }) > 0) {
        throw new ChatError('CHAT_EMAIL_TAKEN')
      }
      const taken = await this.emails.findOneAndUpdate({ _id: key, userId: claim?.userId ?? -1 }, { $set: { userId } })
      if (!taken) throw new ChatError('CHAT_EMAIL_TAKEN')
    }
  }

  async releaseEmail (email: string, userId: number): Promise<void> {
    if (email === '') return
    await this.emails.deleteOne({ _id: emailKey(email), userId })
  }

  /** Inserts a user; the unique index settles concurrent registrations of one name. */
  async insert (doc: UserDoc): Promise<void> {
    try {
      await this.users.insertOne(doc)
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ChatError('CHAT_USERNAME_TAKEN', undefined, { cause: err })
      throw err
    }
  }

  async update (id: number, set: Partial<UserDoc>): Promise<UserDoc> {
    try {
      const doc = await this.users.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' })
      if (!doc) throw new ChatError('CHAT_USER_NOT_FOUND')
      return doc
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ChatError('CHAT_USERNAME_TAKEN', undefined, { cause: err })
      throw err
    }
  }
}

import { ChatError, listAvatar, type Contact, type ContactTarget, type PublicUser } from '@chat/contracts'
import type { ContactDoc } from './store.js'

/** The other user of an add/remove, as the client named them. */
export type TargetRef = { id: number } | { username: string }

/**
 * Reads the target of contact.add/remove. The schema makes both fields
 * optional (JSON Schema can't say "exactly one" portably), so the rule is
 * enforced here.
 */
export function targetOf (req: ContactTarget): TargetRef {
  const hasId = req.targetId !== undefined
  const hasName = req.targetUsername !== undefined
  if (hasId === hasName) throw new ChatError('CHAT_BAD_REQUEST', 'give exactly one of targetId and targetUsername')
  return hasId ? { id: req.targetId as number } : { username: req.targetUsername as string }
}

/** A contact as the client sees it: the stored edge plus the contact's names, avatar URL and presence. */
export function toContact (doc: ContactDoc, user: PublicUser, online: boolean): Contact {
  return {
    userId: user.id,
    username: user.username,
    nickname: user.nickname,
    ...listAvatar(user.avatar),
    online,
    addedAt: doc.createdAt.toISOString(),
  }
}

/**
 * Joins stored edges with profiles and presence, keeping the edges' order.
 * `online[i]` belongs to `docs[i]`. Contacts whose account no longer exists
 * (auth doesn't know them) are left out rather than shown half-empty.
 */
export function joinContacts (docs: readonly ContactDoc[], users: ReadonlyMap<number, PublicUser>, online: readonly boolean[]): Contact[] {
  const out: Contact[] = []
  docs.forEach((doc, i) => {
    const user = users.get(doc.contactId)
    if (user) out.push(toContact(doc, user, online[i] ?? false))
  })
  return out
}

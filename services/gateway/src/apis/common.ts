import { ChatError, type Session } from '@chat/contracts'

/**
 * Several documents make clients repeat their own user id in requests. Such
 * an id must be the logged-in user's, or the request is refused: it is the
 * edge's job to stop one user speaking as another.
 */
export function requireSelf (session: Session, ...claimed: Array<number | string | undefined>): void {
  for (const id of claimed) {
    if (id === undefined) continue
    if (String(id) !== String(session.user.id)) throw new ChatError('CHAT_ID_MISMATCH')
  }
}

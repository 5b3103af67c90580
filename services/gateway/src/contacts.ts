import { Commands, type Contact } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'

/** The most contacts an API's list shows (none of the documents page contact lists). */
export const CONTACTS_SHOWN_MAX = 10_000

/**
 * A user's whole contact list, in the order they were added: contact.list
 * pages end where a NATS reply would overflow (avatars may be large), so it
 * is read page by page.
 */
export async function allContacts (commands: CommandClient, actorId: number): Promise<Contact[]> {
  const out: Contact[] = []
  let after: string | undefined
  do {
    const page = await commands.call(Commands.contact.list, after === undefined ? { actorId } : { actorId, after })
    out.push(...page.contacts)
    after = page.next ?? undefined
  } while (after !== undefined && out.length < CONTACTS_SHOWN_MAX)
  return out
}

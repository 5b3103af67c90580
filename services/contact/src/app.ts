import {
  ChatError, Commands, UserEventKinds,
  type ContactsChangedEvent, type PresenceChangedEvent,
} from '@chat/contracts'
import { Counter, publishJson, type ServiceDeps, type ServiceParts } from '@chat/runtime'
import { startPeriodic } from './periodic.js'
import { PresenceStore } from './presence.js'
import { ContactStore } from './store.js'
import { joinContacts, targetOf, toContact } from './targets.js'
import { fetchUsers, resolveTarget } from './users.js'

export interface ContactOptions {
  /** How long a gateway's report of a user lasts without a heartbeat. */
  presenceTtlMs: number
  /** How often this replica expires stale presence. */
  presenceSweepMs: number
}

/** Builds the contact service's command handlers and its presence sweeper over its open connections. */
export async function buildContactService (deps: ServiceDeps, opts: ContactOptions): Promise<ServiceParts> {
  const { nc, subjects, client, logger } = deps
  const store = new ContactStore(deps.db)
  await store.init()
  const presence = new PresenceStore(deps.redis, opts.presenceTtlMs)
  const transitions = new Counter({
    name: 'chat_presence_transitions_total',
    help: 'Users coming online or going offline, as announced to their watchers',
    labelNames: ['to'],
    registers: [deps.registry],
  })

  /** Tells everyone who has these users as contacts that their presence changed. */
  async function announce (userIds: readonly number[], online: boolean): Promise<void> {
    if (userIds.length === 0) return
    transitions.inc({ to: online ? 'online' : 'offline' }, userIds.length)
    for (const watch of await store.watchersOf(userIds)) {
      const event: PresenceChangedEvent = { kind: 'presence.changed', userId: watch.userId, contactId: watch.contactId, online }
      publishJson(nc, subjects.userEvent(watch.userId, UserEventKinds.presenceChanged), event)
    }
  }

  /**
   * The transition is already recorded in Redis when we announce it, so a
   * failed announcement must not fail the command: a retried report would
   * find no transition and announce nothing either. Log it instead.
   */
  async function announceLogged (userIds: readonly number[], online: boolean): Promise<void> {
    try {
      await announce(userIds, online)
    } catch (err) {
      logger.error({ err, users: userIds.length, online }, 'presence announcement failed')
    }
  }

  function contactsChanged (event: ContactsChangedEvent): void {
    publishJson(nc, subjects.userEvent(event.userId, UserEventKinds.contactsChanged), event)
  }

  // Every replica sweeps; the sweep script hands each expired entry to exactly one of them.
  const sweeper = startPeriodic(
    opts.presenceSweepMs,
    async () => { await announceLogged(await presence.sweep(), false) },
    (err) => logger.warn({ err }, 'presence sweep failed'),
  )

  return {
    close: () => sweeper.stop(),
    handlers: {
      [Commands.contact.list]: async (req) => {
        const docs = await store.list(req.actorId)
        const ids = docs.map((d) => d.contactId)
        const [users, online] = await Promise.all([fetchUsers(client, ids), presence.isOnline(ids)])
        return { contacts: joinContacts(docs, users, online) }
      },

      [Commands.contact.add]: async (req) => {
        const ref = targetOf(req)
        // Refuse self by id before asking auth; by name only auth can tell.
        if ('id' in ref && ref.id === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
        const user = await resolveTarget(client, ref)
        if (user.id === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
        // Read presence before inserting, so nothing after the insert can fail and leave a
        // contact the client was told was not added.
        const [online = false] = await presence.isOnline([user.id])
        const doc = await store.add(req.actorId, user.id)
        contactsChanged({ kind: 'contacts.changed', userId: req.actorId, added: user.id })
        return { contact: toContact(doc, user, online) }
      },

      [Commands.contact.remove]: async (req) => {
        const ref = targetOf(req)
        const targetId = 'id' in ref ? ref.id : (await resolveTarget(client, ref)).id
        if (!await store.remove(req.actorId, targetId)) throw new ChatError('CHAT_CONTACT_NOT_FOUND')
        contactsChanged({ kind: 'contacts.changed', userId: req.actorId, removed: targetId })
        return {}
      },

      [Commands.contact.presenceOnline]: async (req) => {
        if (await presence.online(req.userId, req.gatewayId)) await announceLogged([req.userId], true)
        return {}
      },

      [Commands.contact.presenceOffline]: async (req) => {
        if (await presence.offline(req.userId, req.gatewayId)) await announceLogged([req.userId], false)
        return {}
      },

      // Published without a reply subject; also restores presence after Redis lost it.
      [Commands.contact.presenceHeartbeat]: async (req) => {
        await announceLogged(await presence.heartbeat(req.gatewayId, req.userIds), true)
        return {}
      },
    },
  }
}

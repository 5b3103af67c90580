import {
  ChatError, Commands, UserEventKinds,
  type ContactsChangedEvent, type PresenceChangedEvent,
} from '@chat/contracts'
import {
  Batcher, CacheFallback, Counter, openDomainOutbox, publishJson, recordChange, replyBudgetBytes,
  type DomainEventSettings, type ServiceDeps, type ServiceParts,
} from '@chat/runtime'
import { BlockCache } from './block-cache.js'
import { BlockStore, presenceAudience } from './blocks.js'
import { confirmContactEvents, contactAdded, contactRemoved } from './domain-events.js'
import { startPeriodic } from './periodic.js'
import { PresenceStore } from './presence.js'
import { contactDocId, ContactStore } from './store.js'
import { targetOf, toContact } from './targets.js'
import { listContacts, type ContactListPorts } from './list.js'
import { fetchUsers, resolveTarget } from './users.js'

export interface ContactOptions {
  /** How long a gateway's report of a user lasts without a heartbeat. */
  presenceTtlMs: number
  /** How often this replica expires stale presence. */
  presenceSweepMs: number
  /** Largest reply in bytes; by default what the NATS server accepts. */
  replyBudgetBytes?: number
  /** The domain-event stream (EVENTS_*) and outbox (OUTBOX_*) settings; NATS_PREFIX names them. */
  domainEvents: DomainEventSettings
}

/** Builds the contact service's command handlers and its presence sweeper over its open connections. */
/** Most users one presence announcement covers (see presenceAudience). */
const ANNOUNCE_BATCH = 500

export async function buildContactService (deps: ServiceDeps, opts: ContactOptions): Promise<ServiceParts> {
  const { nc, subjects, client, logger } = deps
  const store = new ContactStore(deps.db)
  await store.init()
  const blocks = new BlockStore(deps.db)
  await blocks.init()
  const outbox = await openDomainOutbox(deps, 'contact', opts.domainEvents, (events) => confirmContactEvents(store.contacts, events))
  const cacheFallback = new CacheFallback({ logger, registry: deps.registry })
  const blockCache = new BlockCache(deps.redis, (blocker, blocked) => blocks.isBlocked(blocker, blocked), cacheFallback, {
    onFillError: (err) => logger.warn({ err }, 'block cache: storing an answer failed; answered from MongoDB'),
  })
  const presence = new PresenceStore(deps.redis, opts.presenceTtlMs)
  const budget = opts.replyBudgetBytes ?? replyBudgetBytes(nc)
  const listPorts: ContactListPorts = {
    edges: (userId) => store.list(userId),
    profiles: (ids) => fetchUsers(client, ids),
    async shownOnline (userId, ids) {
      const [online, blockers] = await Promise.all([presence.isOnline(ids), blocks.blockersAmong(userId, ids)])
      // A contact who blocked the lister is shown offline: their presence is hidden from them.
      return ids.map((id, i) => (online[i] ?? false) && !blockers.has(id))
    },
  }
  const transitions = new Counter({
    name: 'chat_presence_transitions_total',
    help: 'Users coming online or going offline, as announced to their watchers',
    labelNames: ['to'],
    registers: [deps.registry],
  })

  /** Tells `watcherId` that `contactId` is (shown as) online or offline. */
  function tellPresence (watcherId: number, contactId: number, online: boolean): void {
    const event: PresenceChangedEvent = { kind: 'presence.changed', userId: watcherId, contactId, online }
    publishJson(nc, subjects.userEvent(watcherId, UserEventKinds.presenceChanged), event)
  }

  /**
   * Tells everyone who has these users as contacts that their presence
   * changed, except watchers the user has blocked (see presenceAudience:
   * two queries per batch, whatever its size).
   */
  async function announce (userIds: readonly number[], online: boolean): Promise<void> {
    if (userIds.length === 0) return
    transitions.inc({ to: online ? 'online' : 'offline' }, userIds.length)
    for (const watch of await presenceAudience(store, blocks, userIds)) tellPresence(watch.userId, watch.contactId, online)
  }

  /**
   * After `blockerId` blocked or unblocked `targetId`: if the target has the
   * blocker as a contact, tell them what they may now see of the blocker's
   * presence (offline while blocked, the real state once unblocked). The
   * block is already stored, so a failure here is logged, not returned: the
   * command did what it was asked, and the target's contact list (which
   * applies blocks when read) still shows the right state.
   */
  async function presenceAfterBlockChange (blockerId: number, targetId: number, blocked: boolean): Promise<void> {
    try {
      const [watching, [online = false]] = await Promise.all([store.has(targetId, blockerId), presence.isOnline([blockerId])])
      if (!watching) return
      if (blocked) {
        // Only an online blocker needs hiding: the target already sees an offline one as offline.
        if (online) tellPresence(targetId, blockerId, false)
      } else {
        tellPresence(targetId, blockerId, online)
      }
    } catch (err) {
      logger.error({ err, blockerId, targetId, blocked }, 'presence notice after a block change failed')
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

  /**
   * Users who came online (or went offline) at about the same time are
   * announced together: a reconnect storm costs presenceAudience's two
   * queries per batch, not per user. A lone user waits for nothing.
   */
  const announcer = (online: boolean) => new Batcher<number, undefined>(async (userIds) => {
    await announceLogged([...new Set(userIds)], online)
    return userIds.map(() => undefined)
  }, ANNOUNCE_BATCH)
  const cameOnline = announcer(true)
  const wentOffline = announcer(false)

  function contactsChanged (event: ContactsChangedEvent): void {
    publishJson(nc, subjects.userEvent(event.userId, UserEventKinds.contactsChanged), event)
  }

  // Every replica sweeps; the sweep script hands each expired entry to exactly one of them.
  const sweeper = startPeriodic(
    opts.presenceSweepMs,
    async () => { await announceLogged(await presence.sweep(), false) },
    (err) => logger.warn({ err }, 'presence sweep failed')
  )

  return {
    close: async () => {
      await sweeper.stop()
      await outbox.close()
    },
    handlers: {
      [Commands.contact.list]: (req) => listContacts(listPorts, req, budget),

      [Commands.contact.add]: async (req) => {
        const ref = targetOf(req)
        // Refuse self by id before asking auth; by name only auth can tell.
        if ('id' in ref && ref.id === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
        const user = await resolveTarget(client, ref)
        if (user.id === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
        // Read presence (and the block) before inserting, so nothing after the insert can
        // fail and leave a contact the client was told was not added.
        const [blocked, [online = false]] = await Promise.all([
          blocks.isBlocked(user.id, req.actorId), presence.isOnline([user.id]),
        ])
        if (blocked) throw new ChatError('CHAT_BLOCKED')
        const edge = { _id: contactDocId(req.actorId, user.id), userId: req.actorId, contactId: user.id, createdAt: new Date() }
        const doc = await recordChange(outbox, [contactAdded(edge)], () => store.add(edge.userId, edge.contactId, edge.createdAt))
        contactsChanged({ kind: 'contacts.changed', userId: req.actorId, added: user.id })
        return { contact: toContact(doc, user, online) }
      },

      [Commands.contact.remove]: async (req) => {
        const ref = targetOf(req)
        const targetId = 'id' in ref ? ref.id : (await resolveTarget(client, ref)).id
        const edge = await store.get(req.actorId, targetId)
        if (!edge) throw new ChatError('CHAT_CONTACT_NOT_FOUND')
        // Lost to a concurrent removal: that one's event is published, not ours.
        const removed = await recordChange(outbox, [contactRemoved(edge, new Date())], () => store.remove(edge), (gone) => gone)
        if (!removed) throw new ChatError('CHAT_CONTACT_NOT_FOUND')
        contactsChanged({ kind: 'contacts.changed', userId: req.actorId, removed: targetId })
        return {}
      },

      [Commands.contact.presenceOnline]: async (req) => {
        if (await presence.online(req.userId, req.gatewayId)) await cameOnline.submit(req.userId)
        return {}
      },

      [Commands.contact.presenceOffline]: async (req) => {
        if (await presence.offline(req.userId, req.gatewayId)) await wentOffline.submit(req.userId)
        return {}
      },

      // Published without a reply subject; also restores presence after Redis lost it.
      [Commands.contact.presenceHeartbeat]: async (req) => {
        await announceLogged(await presence.heartbeat(req.gatewayId, req.userIds), true)
        return {}
      },

      [Commands.contact.block]: async (req) => {
        if (req.targetId === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
        await resolveTarget(client, { id: req.targetId })
        const added = await blocks.block(req.actorId, req.targetId)
        // Always, even when nothing changed: a retry after a failed invalidation heals the cache.
        await blockCache.invalidate(req.actorId, req.targetId)
        // Blocking an already blocked user announces nothing.
        if (added) await presenceAfterBlockChange(req.actorId, req.targetId, true)
        return {}
      },

      // No user lookup: unblocking someone never blocked (or no longer existing) is simply done.
      [Commands.contact.unblock]: async (req) => {
        const removed = await blocks.unblock(req.actorId, req.targetId)
        await blockCache.invalidate(req.actorId, req.targetId)
        if (removed) await presenceAfterBlockChange(req.actorId, req.targetId, false)
        return {}
      },

      [Commands.contact.listBlocked]: async (req) => {
        return { userIds: await blocks.listBlocked(req.actorId) }
      },

      // On the message service's send path: one Redis round trip when cached, else one
      // primary-key lookup (see block-cache.ts for how the cache stays exact).
      [Commands.contact.checkBlocked]: async (req) => {
        return { blocked: await blockCache.isBlocked(req.blockerId, req.blockedId) }
      },
    },
  }
}

import { ChatError, Commands, type CommandReply, type CommandRequest, type CommandSubject, type Session } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'

/**
 * Who acts in a command is decided here and nowhere else.
 *
 * Every command a client can cause either names its acting user
 * (`actorId`) or is one of the few that work before anyone is logged in.
 * Adapters never see a client that could send the former with an id of
 * their choosing: they get an {@link Actor}, bound to the verified session,
 * whose requests cannot even carry `actorId` (the type omits it) and whose
 * `actorId` is written last, over anything a request might smuggle in, and
 * a {@link PublicCommands} that only knows the pre-login commands.
 */

/** Commands whose request names the acting user. */
export type ActorSubject = {
  [S in CommandSubject]: CommandRequest<S> extends { actorId: number } ? S : never
}[CommandSubject]

/** A request as an adapter writes it: everything but the actor, which only the gateway sets. */
export type ActorRequest<S extends ActorSubject> = Omit<CommandRequest<S>, 'actorId'>

/** The logged-in user of one socket or HTTP request, acting through the services. */
export interface Actor {
  /** The verified session (its user's profile fields may be refreshed after an update). */
  readonly session: Session
  /** The acting user's id: `session.user.id`. */
  readonly userId: number
  /** Calls a command as this user. */
  call<S extends ActorSubject>(subject: S, request: ActorRequest<S>, opts?: { timeoutMs?: number }): Promise<CommandReply<S>>
}

/** Binds a session to the command client: the one place `actorId` is set. */
export function actAs (commands: CommandClient, session: Session): Actor {
  const actorId = session.user.id
  return {
    session,
    userId: actorId,
    call (subject, request, opts) {
      // Last, so nothing spread into `request` can replace it.
      const full = { ...request, actorId } as unknown as CommandRequest<typeof subject>
      return commands.call(subject, full, opts)
    },
  }
}

/** The commands anyone may cause before logging in: none of them acts as a user. */
export const PUBLIC_SUBJECTS = [
  Commands.auth.register,
  Commands.auth.login,
  Commands.auth.resume,
  Commands.auth.redeemTicket,
  Commands.auth.getUsers,
  Commands.auth.getNames,
] as const

export type PublicSubject = typeof PUBLIC_SUBJECTS[number]

/** A command client restricted to the pre-login commands. */
export interface PublicCommands {
  call<S extends PublicSubject>(subject: S, request: CommandRequest<S>, opts?: { timeoutMs?: number }): Promise<CommandReply<S>>
}

/** Restricts a command client to {@link PUBLIC_SUBJECTS}, by type and at run time. */
export function publicCommands (commands: CommandClient): PublicCommands {
  const allowed = new Set<string>(PUBLIC_SUBJECTS)
  return {
    call (subject, request, opts) {
      if (!allowed.has(subject)) throw new ChatError('CHAT_INTERNAL', `${subject} acts as a user: call it through an Actor`)
      return commands.call(subject, request, opts)
    },
  }
}

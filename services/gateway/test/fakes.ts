// Fakes for adapter unit tests: a command client whose replies a test
// scripts, recording every call. Integration tests use the real services.
import type { CommandClient } from '@chat/runtime'

export interface ScriptedCommands {
  commands: CommandClient
  calls: Array<{ subject: string, req: any }>
}

/**
 * `reply(subject, req)` answers each call a tick later (as NATS would,
 * never synchronously); an Error it returns is thrown.
 */
export function scriptedCommands (reply: (subject: string, req: any) => unknown = () => ({})): ScriptedCommands {
  const calls: ScriptedCommands['calls'] = []
  const commands = {
    async call (subject: string, req: unknown) {
      calls.push({ subject, req })
      await new Promise((resolve) => setTimeout(resolve, 1))
      const r = reply(subject, req)
      if (r instanceof Error) throw r
      return r
    },
  } as unknown as CommandClient
  return { commands, calls }
}

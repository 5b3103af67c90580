import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ChatError } from './errors.js'

/** A compiled check that either returns typed data or throws CHAT_BAD_REQUEST. */
export type Validator<T extends TSchema> = (value: unknown) => Static<T>

/**
 * Compiles a schema once. The error names the first offending field, which
 * is what a client developer needs to fix a request.
 */
export function createValidator<T extends TSchema> (schema: T): Validator<T> {
  const compiled = TypeCompiler.Compile(schema)
  return (value: unknown) => {
    if (compiled.Check(value)) return value
    const first = compiled.Errors(value).First()
    const where = first?.path ? first.path.slice(1).replaceAll('/', '.') : ''
    const detail = first ? `${where === '' ? 'payload' : where}: ${first.message}` : 'invalid payload'
    throw new ChatError('CHAT_BAD_REQUEST', detail)
  }
}

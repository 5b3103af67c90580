import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { createValidator } from '@chat/contracts'

/** A decimal integer as a path segment: no sign, exponent, fraction, hex or spaces. */
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/

/**
 * Path parameters arrive as strings: integer fields take exactly a decimal
 * integer. (The default compiler would also read `1e3`, ` 12` or `0x10`.)
 */
function convertParams (schema: TSchema, value: unknown): unknown {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties
  if (!properties || typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const [key, prop] of Object.entries(properties)) {
    const raw = out[key]
    if ((prop.type === 'integer' || prop.type === 'number') && typeof raw === 'string' && DECIMAL.test(raw)) out[key] = Number(raw)
  }
  return out
}

/**
 * The validator compiler of this API's routes. Fastify's default coerces
 * types (`{"name": 5}` would become `"5"`); a body here must have exactly
 * the documented types, as every WebSocket frame must. A failure is a
 * CHAT_BAD_REQUEST naming the field, answered 400 by the error handler.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validate = createValidator(schema)
  const params = httpPart === 'params' || httpPart === 'querystring'
  return (data: unknown) => {
    const value = params ? convertParams(schema, data) : data
    try {
      return { value: validate(value) }
    } catch (err) {
      return { error: err as Error }
    }
  }
}

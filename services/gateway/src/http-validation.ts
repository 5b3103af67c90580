import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { createValidator } from '@chat/contracts'

/** A decimal integer as a path or query value: no sign, exponent, fraction, hex or spaces. */
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/

/**
 * Path and query values arrive as strings: integer fields take exactly a
 * decimal integer (ajv's coercion would also read `1e3`, ` 12` or `0x10`),
 * and missing fields get their schema's default.
 */
function convertStrings (schema: TSchema, value: unknown): unknown {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties
  if (!properties || typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const [key, prop] of Object.entries(properties)) {
    const raw = out[key]
    if ((prop.type === 'integer' || prop.type === 'number') && typeof raw === 'string' && DECIMAL.test(raw)) out[key] = Number(raw)
  }
  return Value.Default(schema, out)
}

/**
 * The validator compiler of the HTTP APIs. Fastify's default coerces types
 * (`{"name": 5}` would become `"5"`, `{"receiver_id": "5"}` 5); a body here
 * must have exactly the documented types, as every WebSocket frame must,
 * through the same validator the services use. A failure is a
 * CHAT_BAD_REQUEST naming the field, answered 400 by the error handler.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validate = createValidator(schema)
  const strings = httpPart === 'params' || httpPart === 'querystring'
  return (data: unknown) => {
    const value = strings ? convertStrings(schema, data) : data
    try {
      return { value: validate(value) }
    } catch (err) {
      return { error: err as Error }
    }
  }
}

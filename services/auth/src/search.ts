import { USER_SEARCH_MAX } from '@chat/contracts'
import { usernameKey } from './store.js'

/** Page size of auth.users.search when the request names none. */
export const USER_SEARCH_DEFAULT = 20

/**
 * Every character with a meaning in a regular expression outside a
 * character class (ECMAScript's SyntaxCharacter set; a class can't start
 * because `[` is escaped). Escaped with a backslash each stands for itself
 * in JavaScript (also with the `u` flag), in MongoDB's PCRE and in Go's RE2
 * (FerretDB). Nothing else is escaped: a backslash before a letter or digit
 * would make it a class or back-reference (`\d`, `\1`), and non-ASCII text
 * is literal in all three.
 */
const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g

/** The text as a regular expression that matches exactly that text. */
export function escapeRegex (text: string): string {
  return text.replace(REGEX_SPECIAL, '\\$&')
}

/** Usernames never contain control characters (see the Username schema), so such a query matches nothing. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * The `usernameKey` pattern for a search: the query normalised and
 * lower-cased exactly as stored keys are, then escaped, so the search is
 * case-insensitive and literal. Undefined when nothing can match (and
 * MongoDB would refuse a pattern with a NUL byte anyway).
 */
export function searchPattern (query: string): string | undefined {
  if (query === '' || CONTROL.test(query)) return undefined
  return escapeRegex(usernameKey(query))
}

/** The page asked for, with the defaults applied and the limits enforced again (the schema does it first). */
export function searchPage (req: { limit?: number | undefined, offset?: number | undefined }): { limit: number, offset: number } {
  const limit = Math.min(Math.max(Math.trunc(req.limit ?? USER_SEARCH_DEFAULT), 1), USER_SEARCH_MAX)
  const offset = Math.max(Math.trunc(req.offset ?? 0), 0)
  return { limit, offset }
}

/** Splits the limit+1 rows fetched into the page and whether more follow. */
export function pageOf<T> (rows: readonly T[], limit: number): { items: T[], hasMore: boolean } {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit }
}

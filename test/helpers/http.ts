// A tiny fetch wrapper: JSON in, status + parsed body out, never throws on
// HTTP error statuses (tests assert on them).
export interface HttpResult<T = any> {
  status: number
  headers: Headers
  /** Parsed JSON when the response is JSON, the text otherwise. */
  body: T
  text: string
}

export async function http<T = any> (
  url: string,
  opts: { method?: string, json?: unknown, headers?: Record<string, string>, timeoutMs?: number } = {}
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers }
  let body: string | undefined
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = JSON.stringify(opts.json)
  }
  const res = await fetch(url, {
    method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  })
  const text = await res.text()
  let parsed: unknown = text
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try { parsed = JSON.parse(text) } catch {}
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text }
}

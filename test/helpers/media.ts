// Image, file and audio content every API must accept and refuse alike: a
// web URL is stored and delivered as sent; other schemes change nothing.

/** Absolute http(s) URLs of other servers, each to arrive unchanged. */
export const WEB_MEDIA_URLS = [
  'https://cdn.example.com/p/123.png',
  'http://media.example.org/a%20b.ogg?size=large#t=3',
  'https://elsewhere.example/files/42',
] as const

/** Content no image, file or audio message may have. */
export const REFUSED_MEDIA_URLS = [
  'javascript:alert(1)',
  'data:image/png;base64,iVBORw0KGgo=',
  'ftp://files.example.com/a.png',
  '//cdn.example.com/a.png',
  'https://bank.example@evil.example/a.png',
  'https://cdn.example.com/a b.png',
] as const

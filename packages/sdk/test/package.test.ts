// The published surface: an exports map with types, no runtime
// dependencies, and sources that import nothing but each other (no Node
// built-ins, no server package), so one build serves browsers and Node.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

t.test('package.json is ready to publish', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  t.equal(pkg.name, '@chat/sdk')
  t.same(pkg.exports, { '.': { types: './dist/index.d.ts', import: './dist/index.js' } })
  t.equal(pkg.sideEffects, false)
  t.same(pkg.files, ['dist', 'README.md'])
  t.notOk(pkg.dependencies, 'no runtime dependencies')
  t.notOk(pkg.private, 'publishable')
})

t.test('sources import only each other', async (t) => {
  for (const file of readdirSync(path.join(root, 'src'))) {
    const text = readFileSync(path.join(root, 'src', file), 'utf8')
    for (const [, spec] of text.matchAll(/\bfrom '([^']+)'/g)) {
      if (!(spec as string).startsWith('./')) t.fail(`${file} imports ${spec}`)
    }
    if (/\bprocess\.|\bBuffer\.|require\(/.test(text)) t.fail(`${file} uses a Node-only global`)
  }
  t.pass('checked')
})

// findWhereIn against the real MongoDB-wire server: the same documents
// whether it asks one equality per value (a few) or one $in (more).
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { connectMongo, findWhereIn, FEW_VALUES } from '../src/mongo.js'

const { client, db } = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', `test_where_in_${randomBytes(5).toString('hex')}`, 'where-in-test')
t.teardown(async () => {
  await db.dropDatabase()
  await client.close()
})
const col = db.collection<{ _id: number, name: string, secret: string }>('things')
await col.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, name: `n${i % 10}`, secret: 's' })))

const ids = (docs: Array<{ _id: number }>) => docs.map((d) => d._id).sort((a, b) => a - b)

t.test('none, one, a few (repeated), and many values', async (t) => {
  t.same(await findWhereIn(col, '_id', []), [])
  t.same(ids(await findWhereIn(col, '_id', [7])), [7])
  t.same(ids(await findWhereIn(col, '_id', [3, 1, 3, 99])), [1, 3], 'each document once; unknown values find nothing')
  const many = Array.from({ length: FEW_VALUES + 5 }, (_, i) => i * 2)
  t.same(ids(await findWhereIn(col, '_id', many)), many.filter((i) => i < 30))
})

t.test('a field that is not unique, and a projection', async (t) => {
  const found = await findWhereIn(col, 'name', ['n1', 'n2'], { projection: { secret: 0 } })
  t.same(ids(found), [1, 2, 11, 12, 21, 22])
  t.ok(found.every((d) => !('secret' in d)), 'projection applied')
})

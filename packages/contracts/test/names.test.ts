// The one rule for names: usernames, nicknames and room names refuse C0/C1
// controls and bidirectional controls, and accept everything else.
import t from 'tap'
import {
  CreateRoomRequest, createValidator, hasForbiddenNameChar, Nickname, RegisterRequest, RoomName, UpdateProfileRequest, Username,
} from '../src/index.js'

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Every code point the rule must refuse. */
const FORBIDDEN = [
  ...range(0x0000, 0x001f), ...range(0x007f, 0x009f),
  0x061c, 0x200e, 0x200f, ...range(0x202a, 0x202e), ...range(0x2066, 0x2069),
]
/** Neighbours and look-alikes the rule must leave alone. */
const ALLOWED = [0x0020, 0x007e, 0x00a0, 0x00e9, 0x061b, 0x061d, 0x200b, 0x200d, 0x2010, 0x2029, 0x202f, 0x2065, 0x206a, 0x4e00, 0x1f600]

const validators = {
  Username: createValidator(Username),
  Nickname: createValidator(Nickname),
  RoomName: createValidator(RoomName),
}

t.test('every name schema refuses C0, DEL, C1 and bidi controls, wherever they are', async (t) => {
  for (const cp of FORBIDDEN) {
    const c = String.fromCodePoint(cp)
    t.ok(hasForbiddenNameChar(`a${c}b`), hex(cp))
    for (const [name, validate] of Object.entries(validators)) {
      for (const text of [c, `name${c}`, `${c}name`, `na${c}me`]) {
        t.throws(() => validate(text), { code: 'CHAT_BAD_REQUEST' }, `${name} refuses ${hex(cp)} in ${JSON.stringify(text)}`)
      }
    }
  }
})

t.test('names with other characters, emoji and scripts pass', async (t) => {
  for (const cp of ALLOWED) {
    const text = `a${String.fromCodePoint(cp)}b`
    t.notOk(hasForbiddenNameChar(text), hex(cp))
    for (const [name, validate] of Object.entries(validators)) t.equal(validate(text), text, `${name} accepts ${hex(cp)}`)
  }
  t.equal(validators.Nickname(''), '', 'a nickname may be cleared')
  t.throws(() => validators.Username(''), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => validators.RoomName(''), { code: 'CHAT_BAD_REQUEST' })
})

t.test('the commands that set names use the rule', async (t) => {
  const rlo = 'nimda\u202e'
  t.throws(() => createValidator(RegisterRequest)({ username: rlo, password: 'pw' }), { code: 'CHAT_BAD_REQUEST', message: /^username/ })
  t.throws(() => createValidator(RegisterRequest)({ username: 'ok', password: 'pw', nickname: 'x\u0085' }), { code: 'CHAT_BAD_REQUEST', message: /^nickname/ })
  t.throws(() => createValidator(UpdateProfileRequest)({ actorId: 1, username: 'a\u2066b' }), { code: 'CHAT_BAD_REQUEST', message: /^username/ })
  t.throws(() => createValidator(UpdateProfileRequest)({ actorId: 1, nickname: '\u200fx' }), { code: 'CHAT_BAD_REQUEST', message: /^nickname/ })
  t.throws(() => createValidator(CreateRoomRequest)({ actorId: 1, name: 'room\u009b' }), { code: 'CHAT_BAD_REQUEST', message: /^name/ })
})

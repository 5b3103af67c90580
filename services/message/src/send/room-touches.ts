/** Rooms remembered as touched at most; beyond it, those touched longer than `everyMs` ago are forgotten. */
const REMEMBERED_MAX = 10_000

/**
 * When a room's members' activity is written. That write updates every
 * member document of the room (conversation lists sort on it), the
 * costliest summary write in a big room: on FerretDB, a thousand
 * single-document updates. So a room's members are touched at most once
 * every `everyMs`; a touch that comes sooner waits, folded with the later
 * ones, until its turn (SummaryWriter writes it in a flush, so it never runs
 * beside that flush's read marks).
 */
export class RoomTouches {
  private readonly touchedAt = new Map<number, number>()
  private readonly waitingTouches = new Map<number, Date>()

  constructor (
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now()
  ) {}

  /** Whether the room's members may be touched now; if not, `at` waits for takeDue. */
  claim (roomId: number, at: Date): boolean {
    const last = this.touchedAt.get(roomId)
    if (last !== undefined && this.now() - last < this.everyMs) {
      const waiting = this.waitingTouches.get(roomId)
      if (waiting === undefined || waiting < at) this.waitingTouches.set(roomId, at)
      return false
    }
    this.touched(roomId)
    return true
  }

  /** The waiting touches whose turn came (all of them with `all`), taken out: room id and the newest activity. */
  takeDue (all: boolean): Array<[number, Date]> {
    const due: Array<[number, Date]> = []
    for (const [roomId, at] of this.waitingTouches) {
      if (!all && this.now() - (this.touchedAt.get(roomId) ?? 0) < this.everyMs) continue
      this.waitingTouches.delete(roomId)
      this.touched(roomId)
      due.push([roomId, at])
    }
    return due
  }

  /** Milliseconds until the next waiting touch is due (0 if one is), or undefined when none waits. */
  nextDueInMs (): number | undefined {
    let soonest: number | undefined
    for (const roomId of this.waitingTouches.keys()) {
      const left = Math.max(0, (this.touchedAt.get(roomId) ?? 0) + this.everyMs - this.now())
      if (soonest === undefined || left < soonest) soonest = left
    }
    return soonest
  }

  get waiting (): number {
    return this.waitingTouches.size
  }

  private touched (roomId: number): void {
    if (this.touchedAt.size >= REMEMBERED_MAX) {
      const now = this.now()
      for (const [id, at] of this.touchedAt) if (now - at >= this.everyMs && !this.waitingTouches.has(id)) this.touchedAt.delete(id)
    }
    this.touchedAt.set(roomId, this.now())
  }
}

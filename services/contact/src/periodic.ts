/** A background task that runs every `intervalMs` until stopped. */
export interface Periodic {
  /** Cancels the next run and waits for a run in progress to finish. */
  stop(): Promise<void>
}

/**
 * Runs `task` every `intervalMs`, measured from the end of one run to the
 * start of the next, so a slow run (Redis hiccup) never overlaps the next
 * one. The timer is unref'd: it never keeps the process alive by itself.
 * A failing run is reported to `onError` and the schedule continues.
 */
export function startPeriodic (intervalMs: number, task: () => Promise<void>, onError: (err: unknown) => void): Periodic {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      timer = undefined
      running = task()
        .catch(onError)
        .finally(() => {
          running = undefined
          schedule()
        })
    }, intervalMs)
    timer.unref()
  }
  schedule()

  return {
    async stop () {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await running
    },
  }
}

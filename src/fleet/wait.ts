/**
 * (ours) The two waits the fleet's loops need: a back-off that a stop cuts short, and a bound
 * on a promise that may never settle (an etcd call to a silent member). Pure helpers; no state.
 */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts.
 *
 * @param unref - when true the timer does not keep the process alive.
 */
export async function delay (ms: number, signal: AbortSignal, unref = false): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) { resolve(); return }
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    if (unref) timer.unref()
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * `work`, or a rejection after `ms` milliseconds (`<what>: no answer within <ms> ms`). The
 * work itself is not cancelled; the caller closes what it belongs to.
 *
 * @throws the work's error, or Error on the timeout.
 */
export async function within<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${what}: no answer within ${ms} ms`)) }, ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}

import assert from 'node:assert/strict'
import { mock, test } from 'node:test'
import { StartPacer } from '../../src/checkers/start-pacer.js'

test('starts: a burst of perSecond at once, then one per 1/perSecond s in arrival order; past the queue refused at once', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] })
  t.after(() => { mock.timers.reset() })
  let nowMs = 0
  const pacer = new StartPacer({ perSecond: 2, maxWaiting: 2, nowMs: () => nowMs })
  t.after(() => { pacer.stop() })
  const signal = new AbortController().signal
  assert.equal(await pacer.take(signal), true)
  assert.equal(await pacer.take(signal), true)
  const order: string[] = []
  const third = pacer.take(signal).then((r) => { order.push(`third ${String(r)}`) })
  const fourth = pacer.take(signal).then((r) => { order.push(`fourth ${String(r)}`) })
  assert.equal(await pacer.take(signal), 'queue full', 'two already wait')
  assert.equal(pacer.queued, 2)
  nowMs = 499
  mock.timers.tick(499)
  await Promise.resolve()
  assert.deepEqual(order, [], 'no token yet')
  nowMs = 500
  mock.timers.tick(1)
  await third
  assert.deepEqual(order, ['third true'])
  nowMs = 1000
  mock.timers.tick(500)
  await fourth
  assert.deepEqual(order, ['third true', 'fourth true'])
})

test('a wait its check\'s timeout ends leaves the queue; stop() refuses the rest', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] })
  t.after(() => { mock.timers.reset() })
  const nowMs = 0
  const pacer = new StartPacer({ perSecond: 1, maxWaiting: 5, nowMs: () => nowMs })
  const never = new AbortController().signal
  assert.equal(await pacer.take(never), true)
  const timeout = new AbortController()
  const waiting = pacer.take(timeout.signal)
  const other = pacer.take(never)
  assert.equal(pacer.queued, 2)
  timeout.abort()
  assert.equal(await waiting, 'aborted')
  assert.equal(pacer.queued, 1)
  pacer.stop()
  assert.equal(await other, 'aborted')
  assert.equal(await pacer.take(timeout.signal), 'aborted', 'an aborted signal never waits')
})

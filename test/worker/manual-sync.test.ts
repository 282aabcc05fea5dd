import t from 'tap'
import { request } from 'undici'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'
import { startTestWorker, waitFor, waitForSync } from '../helpers/worker.js'

t.test('ten concurrent manual triggers give one job and one refresh grant', async (t) => {
  const ctx = await build(t)
  const { connectionId, browser } = await connect(ctx)
  const id = connectionId ?? ''
  const core = ctx.app.healow
  // The initial sync would otherwise share the job: let it go first.
  await core.syncQueue.obliterate({ force: true })
  const tokens = await core.connections.readTokens(id)
  if (tokens === undefined) throw new Error('no tokens')
  await core.connections.writeTokens(id, { ...tokens, expiresAt: Date.now() + 1000, obtainedAt: Date.now() - 3_599_000 })

  const answers = await Promise.all(Array.from({ length: 10 }, async () =>
    await browser.send('POST', `${ctx.origin}/healow/connections/${id}/sync`, undefined)))
  t.same(answers.map((a) => a.status), Array(10).fill(202))
  const jobIds = new Set(answers.map((a) => JSON.parse(a.body).jobId))
  t.equal(jobIds.size, 1, 'one job id for all ten')
  const waiting = await core.syncQueue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])
  t.equal(waiting.length, 1, 'one job in the queue')

  await startTestWorker(t, ctx)
  const status = await waitForSync(ctx, id)
  t.equal(status.outcome, 'succeeded')
  t.equal(ctx.sandbox.counters().tokenGrants.refresh_token, 1, 'one refresh grant')

  // Inside the floor, a new trigger is refused with Retry-After.
  const again = await browser.send('POST', `${ctx.origin}/healow/connections/${id}/sync`, undefined)
  t.equal(again.status, 429)
  const retryAfter = Number(again.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}s within the 15-minute floor`)
  t.equal(JSON.parse(again.body).code, 'HEALOW_ERR_SYNC_TOO_SOON')
  t.equal((await core.syncQueue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).length, 0, 'nothing queued')
})

t.test('live progress arrives as server-sent events', async (t) => {
  const ctx = await build(t, { plugin: { manualSyncMinInterval: '0s' } })
  const { connectionId, browser } = await connect(ctx)
  const id = connectionId ?? ''
  await startTestWorker(t, ctx)
  await waitForSync(ctx, id)

  const cookie = [...(browser.cookies.get(ctx.origin) ?? [])].map(([k, v]) => `${k}=${v}`).join('; ')
  const res = await request(`${ctx.origin}/healow/connections/${id}/events`, { headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  let text = ''
  const done = (async () => {
    for await (const chunk of res.body) {
      text += String(chunk)
      if (text.includes('event: done')) return
    }
  })()
  await waitFor(async () => (text.includes('event: status') ? true : undefined), 10_000, 'the status event')
  const trigger = await browser.send('POST', `${ctx.origin}/healow/connections/${id}/sync`, undefined)
  t.equal(trigger.status, 202)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise((resolve, reject) => { timer = setTimeout(() => { reject(new Error('no done event')) }, 60_000) })])
  clearTimeout(timer)
  res.body.destroy()
  const events = text.split('\n\n').filter((e) => e.startsWith('event: '))
  const progress = events.filter((e) => e.startsWith('event: progress')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)))
  t.ok(progress.length >= 2, `progress events (${progress.length})`)
  t.ok(progress.every((p) => p.connectionId === id && p.jobId === JSON.parse(trigger.body).jobId))
  const last = progress.at(-1)
  t.equal(last.phase, 'done')
  t.ok(last.resources > 0)
  const doneEvent = events.find((e) => e.startsWith('event: done')) ?? ''
  t.equal(JSON.parse(doneEvent.slice(doneEvent.indexOf('data: ') + 6)).outcome, 'succeeded')

  // Another user cannot listen.
  const other = await request(`${ctx.origin}/healow/connections/${id}/events`)
  t.equal(other.statusCode, 404)
  await other.body.text()
})

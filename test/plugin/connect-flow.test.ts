import t from 'tap'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'

for (const mode of ['confidential', 'public'] as const) {
  t.test(`the full dance in ${mode} mode`, async (t) => {
    const ctx = await build(t, { mode })
    const { final, connectionId, authorizeUrl, browser } = await connect(ctx)
    t.equal(final.status, 302)
    t.match(final.location, new RegExp(`^${ctx.origin}/done\\?connection=[A-Za-z0-9_-]{22}$`))
    t.ok(connectionId)

    // The authorize redirect carries what Healow needs.
    const p = authorizeUrl.searchParams
    t.equal(authorizeUrl.origin + authorizeUrl.pathname, ctx.sandbox.authorizeUrl)
    t.equal(p.get('aud'), ctx.sandbox.fhirBaseUrl, 'aud is the FHIR base exactly')
    t.notOk(p.get('aud')?.endsWith('/'), 'no trailing slash on aud')
    t.equal(p.get('code_challenge_method'), 'S256')
    t.match(p.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)
    t.equal(p.get('redirect_uri'), `${ctx.origin}/healow/callback`)
    t.equal(p.get('client_id'), mode === 'confidential' ? ctx.sandbox.clientId : ctx.sandbox.publicClientId)
    const scopes = (p.get('scope') ?? '').split(' ')
    for (const s of ['openid', 'fhirUser', 'launch/patient', 'patient/Observation.read', 'patient/Patient.read']) t.ok(scopes.includes(s), `scope ${s}`)
    t.equal(scopes.includes('offline_access'), mode === 'confidential')
    t.ok(p.get('nonce'))

    const counters = ctx.sandbox.counters()
    t.equal(counters.tokenGrants.authorization_code, 1, 'one code exchange')

    const status = await browser.get(`${ctx.origin}/healow/connections/${connectionId}`)
    t.equal(status.status, 200)
    const body = JSON.parse(status.body)
    t.equal(body.mode, mode)
    t.equal(body.patientId, ctx.sandbox.patientId)
    t.equal(body.practice.id, ctx.sandbox.practiceCode)
    t.equal(body.reauth_required, false)
    t.equal(body.canRefresh, mode === 'confidential')
    t.ok(Date.parse(body.tokenExpiresAt) > Date.now())
    if (mode === 'confidential') {
      t.ok(Date.parse(body.nextSyncAt) > Date.now(), 'a recurring schedule')
    } else {
      t.equal(body.nextSyncAt, null, 'public connections have no schedule')
    }

    const queue = ctx.app.healow.syncQueue
    const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])
    const initial = jobs.filter((j) => j.data.trigger === 'initial')
    t.equal(initial.length, 1, 'the first sync is queued')
    t.same(initial[0]?.data, { connectionId, trigger: 'initial' }, 'job data holds the id and trigger only')
    t.equal((await queue.getJobSchedulers()).length, mode === 'confidential' ? 1 : 0)

    const list = JSON.parse((await browser.get(`${ctx.origin}/healow/connections`)).body)
    t.equal(list.connections.length, 1)
    t.equal(list.connections[0].id, connectionId)
  })
}

t.test('connecting again updates the same connection', async (t) => {
  const ctx = await build(t)
  const first = await connect(ctx)
  const second = await connect(ctx, { browser: first.browser })
  t.equal(second.connectionId, first.connectionId)
  const list = JSON.parse((await first.browser.get(`${ctx.origin}/healow/connections`)).body)
  t.equal(list.connections.length, 1)
  t.equal((await ctx.app.healow.connections.listIds()).length, 1)
})

/**
 * The status page's only script: live sync progress over server-sent events
 * (`GET /healow/connections/:id/events`). Everything else on the page works
 * without it. It writes with `textContent` only, never HTML.
 *
 * Each connection article carries `data-events` (the stream URL) and
 * `data-state` (outcome|jobId|finishedAt of the sync the page was rendered
 * with). The stream's first `status` event is the same status JSON: when it
 * differs, or a run we watched is `done`, the page reloads to show the new
 * counts and outcome, which the server renders. While a sync is pending or
 * running, the status JSON is also polled now and then: an event sent before
 * the stream was listening must not leave the page waiting forever.
 */
export const LIVE_SCRIPT = `
(function () {
  if (!('EventSource' in window)) return
  function stateOf (status) {
    var s = status && status.lastSync
    return s ? [s.outcome, s.jobId || '', s.finishedAt || ''].join('|') : 'none'
  }
  document.querySelectorAll('[data-events]').forEach(function (el) {
    var bar = el.querySelector('progress')
    var text = el.querySelector('.live-text')
    var watched = false
    var source = new EventSource(el.getAttribute('data-events'))
    function show (message) { if (text) text.textContent = message }
    function check (status) {
      if (stateOf(status) !== el.getAttribute('data-state')) { source.close(); location.reload() }
    }
    var rendered = el.getAttribute('data-state').split('|')[0]
    if (rendered === 'running' || rendered === 'none') {
      setInterval(function () {
        fetch(el.getAttribute('data-status'), { headers: { accept: 'application/json' } })
          .then(function (r) { return r.ok ? r.json() : null })
          .then(function (status) { if (status) check(status) }, function () {})
      }, 5000)
    }
    source.addEventListener('status', function (e) {
      check(JSON.parse(e.data))
    })
    source.addEventListener('progress', function (e) {
      var p = JSON.parse(e.data)
      watched = true
      if (bar) {
        bar.hidden = false
        // Searches done of the plan, when the worker says; an indeterminate bar otherwise.
        if (p.searchesTotal > 0) { bar.max = p.searchesTotal; bar.value = p.searchesDone || 0 }
      }
      show('Syncing' + (p.search ? ' ' + p.search : p.phase ? ' (' + p.phase + ')' : '') + ': ' +
        (p.pages || 0) + ' pages, ' + (p.resources || 0) + ' records so far')
    })
    source.addEventListener('done', function (e) {
      var d = JSON.parse(e.data)
      source.close()
      if (bar) bar.hidden = true
      show('Sync ' + d.outcome + '.')
      if (watched || rendered === 'running' || rendered === 'none') location.reload()
    })
  })
})()
`

/* hacheck status page script: renders /page/events (server-sent events; /page/data as a
 * fallback) into the page. Every value from the server is set with textContent or as an
 * attribute value, never parsed as markup. The bearer token lives only in its input field and
 * is sent as an Authorization header: no cookie, no storage. */
/* global document, window, fetch, EventSource, URLSearchParams, Intl */

const PASSING = new Set(['L4OK', 'L6OK', 'L7OK', 'L7OKC'])
const SEVERITY = { maint: 0, down: 1, failing: 2, drain: 3, up: 4 }
const SVG = 'http://www.w3.org/2000/svg'

const $ = (id) => document.getElementById(id)
const servicesBody = document.querySelector('#services tbody')
const transitionsBody = document.querySelector('#transitions tbody')
const rows = new Map() // service name -> { tr, cells, row }
const sort = { key: 'name', dir: 1 }
let data = null
let clockOffsetMs = 0 // server clock minus ours, so durations and expirations use the server's time

/* ---- small helpers ---- */

function el (tag, props = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else e.setAttribute(k, v)
  }
  for (const c of children) e.append(c)
  return e
}

function setText (e, text) {
  const t = text == null ? '' : String(text)
  if (e.textContent !== t) e.textContent = t
}

function setTitle (e, text) {
  if (text) e.title = text
  else e.removeAttribute('title')
}

const serverNow = () => (Date.now() + clockOffsetMs) / 1000

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
const absolute = (ts) => ts == null ? '' : dateFmt.format(new Date(ts * 1000))

function span (seconds) {
  const s = Math.abs(Math.round(seconds))
  if (s < 90) return `${s} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86400)} d`
}

function relative (ts) {
  if (ts == null) return ''
  const d = ts - serverNow()
  return d > 0 ? `in ${span(d)}` : `${span(d)} ago`
}

function uptime (seconds) {
  let s = Math.floor(seconds)
  const d = Math.floor(s / 86400); s -= d * 86400
  const h = Math.floor(s / 3600); s -= h * 3600
  const m = Math.floor(s / 60); s -= m * 60
  return (d > 0 ? `${d}d ` : '') + `${h}h ${m}m ${s}s`
}

/* ---- services table ---- */

/** The row's displayed state: the spool's, else failing when the last answer (a current one) failed. */
function displayState (row, stale) {
  if (row.state !== 'up') return row.state
  if (stale) return 'up'
  if (row.last && row.last.check_status && !PASSING.has(row.last.check_status)) return 'failing'
  if (row.last && !row.last.check_status && row.last.code >= 300) return 'failing'
  return 'up'
}

/** What the row's spool entries are, to notice when they change. */
const spoolKey = (row) => row.spool.map((e) => `${e.file}|${e.state}|${e.source}|${e.creation}`).join('\n')

/**
 * Whether the last answer predates the spool state the row shows: given before the entry that
 * now answers was written, or before this page saw the spool change (an `up` leaves no entry
 * to date). Such an answer is not what a check gets now: the next one answers from the spool.
 */
function isStale (entry, row) {
  const last = row.last
  if (!last) return false
  const main = mainEntry(row)
  if (main && main.creation != null && last.ts < main.creation) return true
  return entry.spoolChangedAt != null && last.ts < entry.spoolChangedAt
}

/** Readable dates for the unix times in a reference body (`... since 1764700000.123456 until ...`). */
function bodyTimes (text) {
  const out = []
  for (const m of String(text).matchAll(/\b(since|until) ([0-9]{9,11}(?:\.[0-9]+)?)\b/g)) out.push(`${m[1]} ${absolute(Number(m[2]))}`)
  return out.join(', ')
}

/** The spool entry the row's state comes from (first down/maint, else first drain). */
function mainEntry (row) {
  return row.spool.find((e) => e.state === row.state) || row.spool[0] || null
}

function sortValue (row, key) {
  const main = mainEntry(row)
  switch (key) {
    case 'state': return SEVERITY[displayState(row, rows.get(row.name) ? isStale(rows.get(row.name), row) : false)]
    case 'code': return row.last ? row.last.code : -1
    case 'check': return row.last ? (row.last.check_status || '') : ''
    case 'duration': return row.last && row.last.duration_ms != null ? row.last.duration_ms : -1
    case 'reason': return main ? main.reason.toLowerCase() : ''
    case 'since': return main && main.creation != null ? main.creation : -1
    case 'until': return main && main.expiration != null ? main.expiration : (main ? Infinity : -1)
    case 'asked': return row.last ? row.last.ts : -1
    default: return row.name
  }
}

function compareRows (a, b) {
  const va = sortValue(a, sort.key)
  const vb = sortValue(b, sort.key)
  if (va < vb) return -sort.dir
  if (va > vb) return sort.dir
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

function sparkline (latency) {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('class', 'spark')
  svg.setAttribute('viewBox', '0 0 120 24')
  svg.setAttribute('preserveAspectRatio', 'none')
  svg.setAttribute('role', 'img')
  if (!latency) {
    svg.setAttribute('aria-label', 'no probe in the last minutes')
    return svg
  }
  const pts = latency.points
  const n = pts.length
  const values = pts.filter((p) => p != null)
  const max = Math.max(1, ...values)
  const x = (i) => (n <= 1 ? 60 : 2 + (i * 116) / (n - 1)).toFixed(1)
  const y = (v) => (21 - (v / max) * 18).toFixed(1)
  let run = []
  const flush = () => {
    if (run.length === 1) {
      // A lone sample (probes are sparse on a fresh host): a dot, since a line needs two.
      const [cx, cy] = run[0].split(',')
      const dot = document.createElementNS(SVG, 'circle')
      dot.setAttribute('class', 'pt'); dot.setAttribute('cx', cx); dot.setAttribute('cy', cy); dot.setAttribute('r', '1.6')
      svg.append(dot)
    } else if (run.length > 1) {
      const line = document.createElementNS(SVG, 'polyline')
      line.setAttribute('points', run.join(' '))
      svg.append(line)
    }
    run = []
  }
  pts.forEach((p, i) => { if (p == null) flush(); else run.push(`${x(i)},${y(p)}`) })
  flush()
  for (const i of latency.failed) {
    const dot = document.createElementNS(SVG, 'circle')
    dot.setAttribute('class', 'fail'); dot.setAttribute('cx', x(i)); dot.setAttribute('cy', '22'); dot.setAttribute('r', '1.8')
    svg.append(dot)
  }
  const last = [...pts].reverse().find((p) => p != null)
  const label = values.length === 0
    ? 'no probe in the last minutes'
    : `slowest probe per ${latency.bucket_seconds} s; max ${max} ms, latest ${last} ms${latency.failed.length ? `, ${latency.failed.length} with failures` : ''}`
  svg.setAttribute('aria-label', label)
  const title = document.createElementNS(SVG, 'title')
  title.textContent = label
  svg.prepend(title)
  return svg
}

function actionButtons (name) {
  const buttons = el('div', { class: 'btns' })
  for (const action of ['down', 'drain', 'maint', 'up']) {
    buttons.append(el('button', { type: 'button', 'data-action': action, 'data-service': name, text: action }))
  }
  buttons.append(el('output', { 'aria-live': 'polite' }))
  return el('td', { class: 'act' }, buttons)
}

function createRow (name) {
  const names = ['name', 'state', 'code', 'check', 'duration', 'spark', 'reason', 'since', 'until', 'asked']
  const cells = {}
  const tr = el('tr', { 'data-service': name })
  for (const n of names) {
    cells[n] = el('td', { class: n })
    tr.append(cells[n])
  }
  cells.duration.classList.add('num')
  cells.state.append(el('span', { class: 'pill' }))
  cells.reason.append(el('span', { class: 'text' }), el('span', { class: 'file' }))
  cells.act = actionButtons(name)
  tr.append(cells.act)
  setText(cells.name, name)
  return { tr, cells, sparkKey: '', spoolKey: null, spoolChangedAt: null }
}

function updateRow (entry, row, actionsOn, generated) {
  const { tr, cells } = entry
  const key = spoolKey(row)
  if (entry.spoolKey !== null && key !== entry.spoolKey) entry.spoolChangedAt = generated
  entry.spoolKey = key
  const stale = isStale(entry, row)
  const state = displayState(row, stale)
  tr.className = `st-${state}`
  setText(cells.state.firstChild, state.toUpperCase())
  const last = row.last
  setText(cells.code, last ? (stale ? `${last.code} (before ${state})` : last.code) : '—')
  setText(cells.check, last ? (last.check_status || '') : '')
  cells.check.classList.toggle('bad', Boolean(!stale && last && last.check_status && !PASSING.has(last.check_status)))
  for (const c of [cells.code, cells.check, cells.duration]) c.classList.toggle('stale', stale)
  setTitle(cells.code, stale ? `answered ${absolute(last.ts)}, before the spool changed: the next check answers ${state} from the spool` : '')
  setText(cells.duration, last && last.duration_ms != null ? last.duration_ms : '')
  const sparkKey = JSON.stringify(row.latency)
  if (sparkKey !== entry.sparkKey) {
    entry.sparkKey = sparkKey
    cells.spark.replaceChildren(sparkline(row.latency))
  }
  const main = mainEntry(row)
  const parts = row.spool.map((e) => row.spool.length > 1 ? `${e.state}: ${e.file} · ${e.source}` : `${e.file} · ${e.source}`)
  if (row.weight) parts.push(`weight ${row.weight.percent}% (${row.weight.file})`)
  if (row.load) parts.push(loadText(row.load))
  setText(cells.reason.firstChild, main ? main.reason : '')
  setText(cells.reason.lastChild, parts.length ? ` ${parts.join(' · ')}` : '')
  setTitle(cells.reason, row.spool.map((e) => `${e.file} [${e.state}, ${e.source}]: ${e.reason}`).join('\n'))
  setText(cells.since, main ? relative(main.creation) : '')
  setTitle(cells.since, main ? absolute(main.creation) : '')
  setText(cells.until, main ? (main.expiration == null ? 'until undone' : relative(main.expiration)) : '')
  setTitle(cells.until, main ? absolute(main.expiration) : '')
  setText(cells.asked, last ? relative(last.ts) : 'not asked')
  setTitle(cells.asked, last ? `${absolute(last.ts)} by ${last.remote_ip}` : 'no check in the last 10 minutes')
  cells.act.hidden = !actionsOn
  entry.row = row
}

function applyFilterAndSort () {
  const q = $('filter').value.trim().toLowerCase()
  const ordered = [...rows.values()].sort((a, b) => compareRows(a.row, b.row))
  let shown = 0
  ordered.forEach((entry, i) => {
    entry.tr.hidden = q !== '' && !entry.row.name.toLowerCase().includes(q)
    if (!entry.tr.hidden) shown++
    // Move a row only when it is out of place, so a row being clicked is not torn out.
    if (servicesBody.children[i] !== entry.tr) servicesBody.insertBefore(entry.tr, servicesBody.children[i] || null)
  })
  const omitted = data && data.services_omitted ? ` (${data.services_omitted} more not shown)` : ''
  setText($('counts'), `${shown} of ${rows.size} shown${omitted}`)
}

function renderServices (services, actionsOn) {
  const present = new Set()
  for (const row of services) {
    present.add(row.name)
    let entry = rows.get(row.name)
    if (!entry) {
      entry = createRow(row.name)
      rows.set(row.name, entry)
      servicesBody.append(entry.tr)
    }
    updateRow(entry, row, actionsOn, data.generated)
  }
  for (const [name, entry] of rows) {
    if (!present.has(name)) { entry.tr.remove(); rows.delete(name) }
  }
  document.querySelector('#services th.act').hidden = !actionsOn
  $('empty').hidden = services.length > 0
  applyFilterAndSort()
}

/** A load weight (`row.load`, `all.load`) as text: `load weight 63% (host pressure 37.2%)`. */
function loadText (load) {
  const where = load.scope === 'all' ? 'host' : 'cgroup'
  return load.percent == null ? `load weight: no ${where} pressure readable` : `load weight ${load.percent}% (${where} pressure ${load.pressure}%)`
}

/** Each load-weight scope with its inputs: `all 63% (cpu 37.2, memory 0.1, io: <why ignored>)`. */
function describeLoad (status) {
  return status.scopes.map((scope) => {
    const inputs = scope.inputs.map((i) => i.some ? `${i.resource} ${i.some[status.window]}` : `${i.resource}: ${i.error}`)
    return `${scope.service} ${scope.weight == null ? '—' : `${scope.weight}%`} (${status.window}: ${inputs.join(', ')})`
  }).join(' · ')
}

/* ---- transitions, host, banner ---- */

let transitionsKey = ''

function renderTransitions (list) {
  $('no-transitions').hidden = list.length > 0
  // Rebuilt only when a flip was added, so text selected in the table survives the updates.
  const key = list.length === 0 ? '' : `${list.length}|${list[0].ts}|${list[list.length - 1].ts}`
  if (key === transitionsKey) return
  transitionsKey = key
  const trs = list.map((t) => el('tr', { class: t.result },
    el('td', { text: timeFmt.format(new Date(t.ts * 1000)), title: absolute(t.ts) }),
    el('td', { class: 'name', text: `${t.protocol}/${t.service}` }),
    el('td', { text: t.target }),
    el('td', { class: 'change', text: `${t.from || '—'} → ${t.to} (${t.result})` }),
    el('td', { class: 'num', text: String(t.code) }),
    // The body as the reference wrote it, then its unix times as dates.
    el('td', { class: 'msg', text: t.message }, ...(bodyTimes(t.message) ? [el('span', { class: 'when', text: ` (${bodyTimes(t.message)})` })] : []))))
  transitionsBody.replaceChildren(...trs)
}

function describe (value) {
  if (value === null || typeof value !== 'object') return String(value)
  return Object.entries(value).map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')
}

function renderHost (host) {
  const c = host.cache
  const items = [
    ['Host', host.hostname],
    ['Version', host.version],
    ['Uptime', uptime(host.uptime)],
    ['Process', `pid ${host.pid}`],
    ['Spool root', host.spool_root],
    ['Cache', `${c.gets} gets, ${c.hits} hits, ${c.misses} misses, ${c.sets} sets, ${c.expirations} expirations`],
    ['Outbound probes', `${host.outbound_in_flight} in flight, ${host.outbound_request_queue_size} queued`]
  ]
  if (host.fleet !== undefined) items.push(['Fleet', describe(host.fleet)])
  if (host.load_weight !== undefined) items.push(['Load weight', describeLoad(host.load_weight)])
  if (host.spool_error) items.push(['Spool error', host.spool_error])
  const dl = $('host')
  const labels = [...dl.querySelectorAll('dt')].map((dt) => dt.textContent)
  if (labels.join('|') === items.map(([k]) => k).join('|')) {
    // Same lines as before: update the values in place (keeps a selection).
    dl.querySelectorAll('dd').forEach((dd, i) => setText(dd, items[i][1]))
  } else {
    dl.replaceChildren(...items.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, class: k === 'Spool error' ? 'bad' : '' })]))
  }
  setText($('host-name'), host.hostname)
  setText($('version'), host.version)
  document.title = `${host.hostname} · hacheck`
}

function renderBanner (all) {
  const banner = $('banner')
  const main = all.spool.find((e) => e.state !== 'drain') || all.spool[0]
  const parts = []
  if (main) {
    parts.push(`Whole host in ${main.state} state (${main.file}, ${main.source}): ${main.reason}` +
      (main.expiration != null ? `, ${relative(main.expiration)}` : ''))
  }
  if (all.weight) parts.push(`host weight ${all.weight.percent}%`)
  if (all.load && all.load.percent != null && all.load.percent < 100) parts.push(loadText(all.load))
  banner.hidden = parts.length === 0
  banner.className = `banner ${main ? main.state : 'drain'}`
  setText(banner, parts.join(' · '))
}

function render (snapshot) {
  data = snapshot
  clockOffsetMs = snapshot.generated * 1000 - Date.now()
  const actionsOn = snapshot.actions.enabled
  $('actions').hidden = !actionsOn
  setText($('token-hint'), snapshot.actions.token_required ? '' : 'this host requires no token')
  renderServices(snapshot.services, actionsOn)
  renderTransitions(snapshot.transitions)
  renderHost(snapshot.host)
  showFleet(snapshot.host)
  renderBanner(snapshot.all)
  const live = $('live')
  live.classList.remove('stale')
  setText(live, `live · ${timeFmt.format(new Date(snapshot.generated * 1000))}`)
}

/* ---- fleet: what every host publishes (/fleet.json), every two seconds while shown ---- */

const FLEET_COLUMNS = ['hosts', 'up', 'drain', 'maint', 'down', 'failing', 'invalid']
const fleetOpen = new Set() // services expanded to their hosts
let fleetTimer = null

function fleetSummaryRow (s) {
  const tr = el('tr', { class: 'fleet-service', 'data-fleet-service': s.service })
  const worst = ['down', 'maint', 'failing', 'drain', 'invalid'].find((k) => s[k] > 0)
  tr.className = `fleet-service st-${worst === 'invalid' ? 'failing' : worst || 'up'}`
  const open = fleetOpen.has(s.service)
  tr.append(el('td', {}, el('button', { type: 'button', 'aria-expanded': String(open), 'data-fleet': s.service, text: `${open ? '▾' : '▸'} ${s.service}` })))
  for (const k of FLEET_COLUMNS) tr.append(el('td', { class: 'num', text: String(s[k]) }))
  return tr
}

function fleetHostRow (h) {
  const tr = el('tr', { class: `fleet-host st-${h.state === 'invalid' ? 'failing' : h.state}`, 'data-fleet-host': `${h.service}/${h.host}` })
  const since = h.since == null ? '' : relative(h.since)
  tr.append(el('td', { text: `  ${h.host}` }), el('td', {}, el('span', { class: 'pill', text: h.state.toUpperCase() })),
    el('td', { class: 'num', text: h.code ? String(h.code) : '' }), el('td', { colspan: '5', text: [since, h.reason].filter(Boolean).join(' · ') }))
  return tr
}

async function fleetJson (service) {
  const res = await fetch(`/fleet.json${service ? `?service=${encodeURIComponent(service)}` : ''}`, { cache: 'no-store', credentials: 'omit' })
  const body = await res.json()
  if (!res.ok) throw new Error(body.error || String(res.status))
  return body
}

async function refreshFleet () {
  try {
    const all = await fleetJson()
    const hostsOf = new Map()
    for (const service of fleetOpen) hostsOf.set(service, (await fleetJson(service)).hosts || [])
    const rowsOut = []
    for (const s of all.services) {
      rowsOut.push(fleetSummaryRow(s))
      for (const h of hostsOf.get(s.service) || []) rowsOut.push(fleetHostRow(h))
    }
    document.querySelector('#fleet tbody').replaceChildren(...rowsOut)
    setText($('fleet-note'), `${all.services.length} services · etcd revision ${all.revision}${all.complete ? '' : ' · partial'}`)
  } catch (err) {
    setText($('fleet-note'), `cannot read the fleet: ${err.message}`)
  }
}

function showFleet (host) {
  if (host.fleet === undefined) return
  $('force-label').hidden = false
  if (ONCE_FLEET_OFF) return
  $('fleet-section').hidden = false
  if (fleetTimer !== null) return
  refreshFleet()
  fleetTimer = window.setInterval(refreshFleet, 2000)
}

/* ---- actions ---- */

function showResult (output, ok, text) {
  for (const o of [output, $('action-result')]) {
    if (!o) continue
    o.className = `result ${ok ? 'ok' : 'err'}`
    setText(o, text)
  }
}

async function act (button) {
  const service = button.dataset.service
  const action = button.dataset.action
  const output = button.parentElement.querySelector('output')
  const body = new URLSearchParams()
  if (action === 'up') {
    body.set('status', 'up')
  } else {
    const reason = $('reason').value.trim()
    if (reason === '') { showResult(output, false, `${action} ${service}: type a reason first`); return }
    body.set('status', 'down')
    body.set('reason', reason)
    body.set('state', action)
    const seconds = Number($('duration').value)
    if (seconds > 0) body.set('expiration', (serverNow() + seconds).toFixed(3))
    if ($('force').checked) body.set('force', '1')
  }
  const headers = {}
  const token = $('token').value.trim()
  if (token !== '') headers.Authorization = `Bearer ${token}`
  button.disabled = true
  try {
    const res = await fetch(`/spool/${encodeURIComponent(service)}/0/`, { method: 'POST', headers, body, credentials: 'omit', cache: 'no-store' })
    const text = (await res.text()).slice(0, 300)
    showResult(output, res.ok, `${action} ${service}: ${res.status} ${text || res.statusText}`)
    if (res.ok) await refresh()
  } catch (err) {
    showResult(output, false, `${action} ${service}: ${err.message}`)
  } finally {
    button.disabled = false
  }
}

/* ---- data feed ---- */

let polling = null

async function refresh () {
  const res = await fetch('/page/data', { cache: 'no-store', credentials: 'omit' })
  if (!res.ok) throw new Error(`${res.status}`)
  render(await res.json())
}

function stale (why) {
  const live = $('live')
  live.classList.add('stale')
  setText(live, why)
}

function poll () {
  if (polling) return
  polling = window.setInterval(() => { refresh().catch(() => stale('disconnected · retrying')) }, 1000)
}

/**
 * `/?once`: one snapshot from /page/data and no live stream, so a headless browser's
 * `--screenshot` or `--dump-dom` settles (docs/status-page.md "Screenshots").
 */
const ONCE = new URLSearchParams(window.location.search).has('once')
/** No fleet polling under `?once`: a screenshot settles on the host's own data. */
const ONCE_FLEET_OFF = ONCE

function connect () {
  if (ONCE) {
    refresh().then(() => {
      setText($('live'), `snapshot · ${timeFmt.format(new Date(data.generated * 1000))} (not live: ?once)`)
      document.documentElement.dataset.rendered = 'once'
    }, () => stale('no data'))
    return
  }
  if (typeof EventSource === 'undefined') { poll(); return }
  const events = new EventSource('/page/events')
  events.onmessage = (e) => { render(JSON.parse(e.data)) }
  events.onerror = () => {
    stale('disconnected · retrying')
    // Refused (e.g. too many open pages): EventSource gives up; fall back to polling.
    if (events.readyState === EventSource.CLOSED) poll()
  }
}

/* ---- wiring ---- */

document.querySelector('#services thead').addEventListener('click', (e) => {
  const th = e.target.closest('th[data-sort]')
  if (!th) return
  const key = th.dataset.sort
  sort.dir = sort.key === key ? -sort.dir : 1
  sort.key = key
  for (const h of document.querySelectorAll('#services th[data-sort]')) h.removeAttribute('aria-sort')
  th.setAttribute('aria-sort', sort.dir === 1 ? 'ascending' : 'descending')
  applyFilterAndSort()
})
$('filter').addEventListener('input', applyFilterAndSort)
// The form only groups the inputs: Enter must not submit it (the CSP forbids form posts anyway).
$('actions').addEventListener('submit', (e) => { e.preventDefault() })
document.querySelector('#fleet tbody').addEventListener('click', (e) => {
  const button = e.target.closest('button[data-fleet]')
  if (!button) return
  const service = button.dataset.fleet
  if (fleetOpen.has(service)) fleetOpen.delete(service)
  else if (fleetOpen.size < 8) fleetOpen.add(service)
  refreshFleet()
})
servicesBody.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-action]')
  if (button) act(button)
})
connect()

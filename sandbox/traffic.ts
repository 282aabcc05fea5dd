import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SandboxFaults } from './options.js'

/** One request as the sandbox saw it: path and query, Host header, and whether a credential came along. */
export interface RequestSeen {
  method: string
  url: string
  host: string
  authorization: boolean
}

/** A snapshot of what the sandbox has served since start or the last `resetCounters()`. */
export interface SandboxCounters {
  requests: number
  /** FHIR reads and searches per resource type. */
  byType: Record<string, number>
  /** Responses per status code; `none` when the socket closed before any status (resets). */
  byStatus: Record<string, number>
  /** Requests per calendar minute (`Math.floor(now / 60000)`), and the busiest minute's count. */
  byMinute: Record<string, number>
  busiestMinute: number
  rateLimited: number
  /** Token responses per grant type (`authorization_code`, `refresh_token`). */
  tokenGrants: Record<string, number>
  refreshReuse: number
  inFlight: number
  maxInFlight: number
  faults: Record<FaultKind | 'latency' | 'loop' | 'tokenError' | 'tokenHang', number>
  /** Every path + query in arrival order (the URLs of `requestLog`). */
  paths: string[]
  requestLog: RequestSeen[]
}

export type FaultKind = 'reset' | 'stall' | 'unavailable' | 'malformed'

/** The log keeps the first entries only, so a long-running sandbox stays small. */
const MAX_LOG = 100_000

/** What `Traffic` keeps: the counters less `paths`, which `counters()` derives from `requestLog`. */
type CounterState = Omit<SandboxCounters, 'paths'>

function emptyCounters (): CounterState {
  return {
    requests: 0,
    byType: {},
    byStatus: {},
    byMinute: {},
    busiestMinute: 0,
    rateLimited: 0,
    tokenGrants: {},
    refreshReuse: 0,
    inFlight: 0,
    maxInFlight: 0,
    faults: { reset: 0, stall: 0, unavailable: 0, malformed: 0, latency: 0, loop: 0, tokenError: 0, tokenHang: 0 },
    requestLog: []
  }
}

/** Counters, the per-practice rate limit and the fault switch. */
export class Traffic {
  private c = emptyCounters()
  private faultSet: SandboxFaults
  private sequence = 0

  constructor (private readonly now: () => number, private readonly rateLimit: number, faults: SandboxFaults, private readonly windowMs = 60_000) {
    this.faultSet = { ...faults }
  }

  /**
   * Counts a request and says whether the practice's budget admits it.
   * Healow: over the limit in one calendar minute, every call fails with 429
   * until the minute ends, authorize and token calls included.
   */
  begin (req: IncomingMessage, res: ServerResponse): boolean {
    const c = this.c
    c.requests++
    const minute = String(Math.floor(this.now() / this.windowMs))
    const inMinute = (c.byMinute[minute] ?? 0) + 1
    c.byMinute[minute] = inMinute
    c.busiestMinute = Math.max(c.busiestMinute, inMinute)
    if (c.requestLog.length < MAX_LOG) {
      c.requestLog.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', authorization: req.headers.authorization !== undefined })
    }
    c.inFlight++
    c.maxInFlight = Math.max(c.maxInFlight, c.inFlight)
    // `c`, not `this.c`: a request still in flight at `resetCounters()` closes into the old set.
    res.once('close', () => {
      c.inFlight--
      const status = res.headersSent ? String(res.statusCode) : 'none'
      c.byStatus[status] = (c.byStatus[status] ?? 0) + 1
    })
    const admitted = this.rateLimit === 0 || inMinute <= this.rateLimit
    if (!admitted) c.rateLimited++
    return admitted
  }

  countType (type: string): void {
    this.c.byType[type] = (this.c.byType[type] ?? 0) + 1
  }

  countGrant (grantType: string): void {
    this.c.tokenGrants[grantType] = (this.c.tokenGrants[grantType] ?? 0) + 1
  }

  countRefreshReuse (): void {
    this.c.refreshReuse++
  }

  countFault (kind: keyof SandboxCounters['faults']): void {
    this.c.faults[kind]++
  }

  counters (): SandboxCounters {
    const snapshot = structuredClone(this.c)
    return { ...snapshot, paths: snapshot.requestLog.map((seen) => seen.url) }
  }

  /** Starts fresh; requests still in flight are no longer counted. */
  resetCounters (): void {
    this.c = emptyCounters()
  }

  get faults (): Readonly<SandboxFaults> {
    return this.faultSet
  }

  /** Replaces the whole fault set (`{}` clears it) and restarts the fault sequence. */
  setFaults (faults: SandboxFaults): void {
    this.faultSet = { ...faults }
    this.sequence = 0
  }

  /** The delay and fault for the next FHIR resource request; precedence reset, stall, 503, malformed. */
  nextFault (): { delayMs: number, kind: FaultKind | undefined } {
    const f = this.faultSet
    const n = ++this.sequence
    const delayMs = (f.latencyMs ?? 0) + Math.floor(Math.random() * (f.latencyJitterMs ?? 0))
    if (delayMs > 0) this.countFault('latency')
    const kind = hits(f.resetRate, n)
      ? 'reset'
      : hits(f.stallRate, n) ? 'stall' : hits(f.failRate, n) ? 'unavailable' : hits(f.malformedRate, n) ? 'malformed' : undefined
    if (kind !== undefined) this.countFault(kind)
    return { delayMs, kind }
  }
}

/** Deterministic spread: a rate r hits request n when floor(n·r) steps up (0.25 → 4, 8, 12, ...). */
function hits (rate: number | undefined, n: number): boolean {
  if (rate === undefined || rate <= 0) return false
  return Math.floor(n * rate + 1e-9) > Math.floor((n - 1) * rate + 1e-9)
}

/** The JSON shapes the status page reads from the plugin's routes (only the fields it shows). */

export interface SyncFailureView {
  search: string
  status?: number
  reason: string
}

export interface LastSyncView {
  outcome: 'running' | 'succeeded' | 'partial' | 'failed' | 'skipped'
  trigger?: string
  jobId?: string
  startedAt?: string
  finishedAt?: string
  counts?: Record<string, number>
  failures?: SyncFailureView[]
  error?: string
  lastSuccessAt?: string
}

/** `GET /healow/connections/:id` */
export interface ConnectionView {
  id: string
  practice: { id: string, name: string, fhirBaseUrl?: string }
  patientId: string
  mode: 'confidential' | 'public'
  reauth_required: boolean
  reauthReason?: string
  tokenExpiresAt?: string
  canRefresh?: boolean
  createdAt?: string
  lastSync: LastSyncView | null
  nextSyncAt: string | null
}

/** `GET /healow/tenants` entries */
export interface TenantView {
  id: string
  name: string
  url: string
}

/** What `/` says after a redirect: from the plugin's callback, or from the example's own forms. */
export interface PageNotices {
  connectedId?: string
  errorCode?: string
  sync?: string
  retryAfterS?: number
  removed?: boolean
  /** The plugin could not be asked (Redis down, ...). */
  loadError?: string
}

/** What answers GET /users/1 in the end. */
export type UpstreamKind = 'postgres' | 'pglite' | 'light'
/** What sits in front of it; `direct` is nothing. */
export type ProxyKind = 'direct' | 'gateway' | 'gateway-untraced' | 'reply-from' | 'nginx'
export type ScenarioId = `${ProxyKind}/${UpstreamKind}`

export interface Scenario {
  readonly id: ScenarioId
  readonly proxy: ProxyKind
  readonly upstream: UpstreamKind
}

const scenario = (proxy: ProxyKind, upstream: UpstreamKind): Scenario => ({ id: `${proxy}/${upstream}`, proxy, upstream })

/**
 * The saturation runs of every round, in order. Each proxy in front of the production path
 * (user-service on PostgreSQL) and in front of the light upstream, where the proxy is the
 * bottleneck; the untraced gateway only there, for the comparison with nginx; PGlite direct
 * only, for user-service's own figures.
 */
export const SATURATION: readonly Scenario[] = [
  scenario('direct', 'postgres'),
  scenario('gateway', 'postgres'),
  scenario('reply-from', 'postgres'),
  scenario('nginx', 'postgres'),
  scenario('direct', 'pglite'),
  scenario('direct', 'light'),
  scenario('gateway', 'light'),
  scenario('gateway-untraced', 'light'),
  scenario('reply-from', 'light'),
  scenario('nginx', 'light'),
]

/** The fixed-rate runs of every round: the production path, direct and through each proxy. */
export const FIXED_RATE: readonly Scenario[] = [
  scenario('direct', 'postgres'),
  scenario('gateway', 'postgres'),
  scenario('reply-from', 'postgres'),
  scenario('nginx', 'postgres'),
]

/** A server process of the rig: an upstream by its kind, a proxy by the scenario it serves. */
export type ServerId = UpstreamKind | Exclude<ScenarioId, `direct/${string}`>

/** Every proxy process the bench starts: one per proxy and upstream that some scenario uses. */
export const PROXIES: readonly (Scenario & { readonly id: ServerId })[] = SATURATION.flatMap((entry) =>
  entry.proxy === 'direct' ? [] : [entry as Scenario & { readonly id: ServerId }],
)

/** Every server process, upstreams first. */
export const SERVERS: readonly ServerId[] = ['postgres', 'pglite', 'light', ...PROXIES.map((entry) => entry.id)]

export const UPSTREAM_LABEL: Record<UpstreamKind, string> = {
  postgres: 'user-service (PostgreSQL)',
  pglite: 'user-service (PGlite)',
  light: 'light upstream',
}

export const PROXY_LABEL: Record<ProxyKind, string> = {
  direct: 'direct',
  gateway: 'our gateway',
  'gateway-untraced': 'our gateway, tracing off',
  'reply-from': 'reply-from',
  nginx: 'nginx',
}

/** `our gateway → user-service (PostgreSQL)`, `direct → light upstream`. */
export function scenarioLabel(entry: Scenario): string {
  return `${PROXY_LABEL[entry.proxy]} → ${UPSTREAM_LABEL[entry.upstream]}`
}

export function serverLabel(id: ServerId): string {
  const proxy = PROXIES.find((entry) => entry.id === id)
  return proxy === undefined ? UPSTREAM_LABEL[id as UpstreamKind] : scenarioLabel(proxy)
}

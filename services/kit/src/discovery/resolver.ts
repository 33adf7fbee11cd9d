/** One running instance of a service. `url` is an origin such as `http://10.0.0.5:3001`. */
export interface ServiceInstance {
  readonly id: string
  readonly url: string
}

/** Where the instances of one service come from: Consul, or a static list from the environment. */
export interface Resolver {
  /**
   * Healthy instances now; the last known list while the source is unreachable.
   * The same array is returned until the list changes, so callers may compare references.
   */
  instances(): readonly ServiceInstance[]
  /** Resolves when a first list is known (at once for a static list); rejects after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** The origin of an instance URL; throws naming the URL when it is not a plain http(s) origin. */
export function instanceOrigin(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`invalid instance URL "${url}": expected an origin like http://10.0.0.5:3001`)
  }
  // A path or query would be silently dropped by the balancer, so refuse it rather than surprise.
  const plain =
    (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
    parsed.username === '' &&
    parsed.password === '' &&
    parsed.pathname === '/' &&
    parsed.search === '' &&
    parsed.hash === ''
  if (!plain) {
    throw new TypeError(`invalid instance URL "${url}": expected an origin like http://10.0.0.5:3001`)
  }
  return parsed.origin
}

/** A fixed list of instances, for development and for stacks without Consul. */
export function staticResolver(urls: readonly string[]): Resolver {
  if (urls.length === 0) throw new TypeError('staticResolver needs at least one instance URL')
  const origins = [...new Set(urls.map(instanceOrigin))]
  const list: readonly ServiceInstance[] = Object.freeze(origins.map((url) => Object.freeze({ id: url, url })))
  return {
    instances: () => list,
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }
}

import type { Config } from './config.ts'

/**
 * Consul tags that Traefik v3's consulcatalog provider turns into a router on the `web`
 * entrypoint, sending matching requests to the gateway's registered instances.
 */
export function traefikTags(config: Pick<Config, 'ROUTER_RULE'>): string[] {
  return [
    'traefik.enable=true',
    `traefik.http.routers.gateway.rule=${config.ROUTER_RULE}`,
    'traefik.http.routers.gateway.entrypoints=web',
    'traefik.http.services.gateway.loadbalancer.server.scheme=http',
  ]
}

// Who may do what, the same on both renderers: the Consul ACL rules of each client of the
// catalog, and the Elasticsearch users that write and read the logs. Each renderer creates
// them its own way (Pulumi's Consul provider or a setup job on Docker; config entries, Secrets
// and ECK's file realm on Kubernetes); the names and the rights live here.

/** Reads the catalog (services and the nodes they run on). */
export const CATALOG_READ = 'service_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n  policy = "read"\n}'

/** Catalog read plus agent read, for `/v1/agent/metrics`. */
export const CATALOG_AND_AGENT_READ = `${CATALOG_READ}\nagent_prefix "" {\n  policy = "read"\n}`

/** Rules of an app service: registers itself, reads the catalog to find the others. */
export function serviceRules(service: string): string {
  return [`service "${service}" {\n  policy = "write"\n}`, CATALOG_READ].join('\n')
}

/** The Elasticsearch user Logstash writes the logs as (role `logs_writer`). */
export const LOGSTASH_USER = 'logstash_internal'

/** The Elasticsearch user Grafana reads the logs as (role `logs_reader`). */
export const LOGS_READER_USER = 'logs_reader'

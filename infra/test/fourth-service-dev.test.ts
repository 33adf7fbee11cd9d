// A fourth service is one folder and one catalog entry: with audit-service (internal, called by
// no one, no database) added to a copy of the catalog, the config schema takes its replicas,
// the dev runner and the image build know it, and the dev stack renders it under mocks with
// the same healthcheck, limits, scrape config and dashboard rows as every other service.
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import Value from 'typebox/value'
import { devServices } from '../../scripts/dev.ts'
import { stackConfigSchema, stackConfigSchemaFor } from '../config.ts'
import { DASHBOARD_UIDS, panelQueries, type GeneratedDashboard } from '../observability/index.ts'
import { byType, envOf, named, plain, type CapturedResource, type ProgramRun } from './support/program.ts'
import { FOURTH, FOURTH_CATALOG, FOURTH_REPLICAS, runWithFourthService } from './support/fourth-service.ts'

let run: ProgramRun
beforeAll(async () => {
  run = await runWithFourthService('dev')
})

const CONTAINER = 'docker:index/container:Container'
const replicas = () => byType(run.resources, CONTAINER).filter((resource) => resource.name.startsWith(`apps-${FOURTH.name}-`))
const uploadsOf = (resource: CapturedResource) =>
  Object.fromEntries(
    plain<{ file: string; content: unknown }[]>(resource.inputs.uploads).map((upload) => [upload.file, plain<string>(upload.content)]),
  )

describe('a fourth service in a copy of the catalog', () => {
  it('is taken by the stack config schema: services.audit-service.replicas', () => {
    const config = run.program.config as { services: Record<string, { replicas: number }> }
    expect(config.services[FOURTH.name]).toEqual({ replicas: FOURTH_REPLICAS })
  })

  it("is refused by the repository's schema, which takes replicas only for the catalog's services", () => {
    const services = Object.fromEntries(FOURTH_CATALOG.map((service) => [service.name, { replicas: FOURTH_REPLICAS }]))
    expect(Value.Check(stackConfigSchema.properties.services, services)).toBe(false)
    expect(Value.Check(stackConfigSchemaFor(FOURTH_CATALOG).properties.services, services)).toBe(true)
  })

  it('is started by the dev runner on its catalog port, and needs no upstream variable', () => {
    const dev = devServices({}, FOURTH_CATALOG)
    expect(dev.map((service) => service.name)).toEqual(['user-service', 'order-service', 'gateway', FOURTH.name])
    expect(dev.at(-1)).toEqual({ name: FOURTH.name, port: FOURTH.port, env: { LOG_LEVEL: 'info', DRAIN_DELAY_MS: '0' } })
  })

  it('gets an image built from services/Dockerfile with its name and port as build arguments', () => {
    const image = named(run.resources, 'docker:index/image:Image', `images-${FOURTH.name}`)
    expect(image.inputs.imageName).toMatch(new RegExp(`^platform/${FOURTH.name}:[0-9a-f]{16}$`))
    expect((image.inputs.build as { args: Record<string, string> }).args).toMatchObject({ SERVICE: FOURTH.name, PORT: String(FOURTH.port) })
  })
})

describe('dev stack with a fourth service', () => {
  it('runs its replicas on its image, with its port and its own Consul token', () => {
    const containers = replicas()
    expect(containers.map((resource) => resource.name)).toEqual([`apps-${FOURTH.name}-1`, `apps-${FOURTH.name}-2`])
    for (const container of containers) {
      expect(container.inputs.image).toMatch(new RegExp(`^platform/${FOURTH.name}:[0-9a-f]{16}$`))
      const env = envOf(container)
      expect(env.PORT).toBe(String(FOURTH.port))
      expect(env.CONSUL_HTTP_TOKEN).toBe(`secret-of-consul-${FOURTH.name}-accessor`)
      expect(env).not.toHaveProperty('DATABASE_URL')
    }
    expect(named(run.resources, 'consul:index/aclToken:AclToken', `consul-${FOURTH.name}`).inputs.policies).toEqual([FOURTH.name])
  })

  it('gives each replica the readiness healthcheck on its port and the memory and CPU limits of the model', () => {
    for (const container of replicas()) {
      expect((container.inputs.healthcheck as { tests: string[] }).tests.join(' ')).toContain(
        `http://127.0.0.1:${FOURTH.port}/health/ready`,
      )
      expect(container.inputs).toMatchObject({ memory: 256, memoryReservation: 128, cpus: '0.5' })
    }
  })

  it('has Prometheus discover it in Consul and alert on it', () => {
    const uploads = uploadsOf(named(run.resources, CONTAINER, 'monitoring-prometheus'))
    const config = parse(uploads['/etc/prometheus/prometheus.yml']!) as {
      scrape_configs: { job_name: string; consul_sd_configs?: { services: string[] }[] }[]
    }
    const consul = config.scrape_configs.find((job) => job.job_name === 'consul-services')!
    expect(consul.consul_sd_configs![0]!.services).toEqual(['user-service', 'order-service', 'gateway', FOURTH.name])
    expect(uploads['/etc/prometheus/alerts.rules.yml']).toContain(`job="${FOURTH.name}"`)
  })

  it('gives it a row of its own in the services overview dashboard Grafana is provisioned with', () => {
    const uploads = uploadsOf(named(run.resources, CONTAINER, 'monitoring-grafana'))
    const overview = JSON.parse(uploads[`/etc/grafana/dashboards/${DASHBOARD_UIDS.servicesOverview}.json`]!) as GeneratedDashboard['json']
    const rows = (overview.panels ?? []).filter((panel) => panel.type === 'row').map((panel) => panel.title)
    expect(rows).toContain(`Service: ${FOURTH.name}`)
    const queries = panelQueries(overview).filter((query) => query.panel.startsWith(`${FOURTH.name}:`))
    expect(queries.map((query) => query.expr)).toEqual([
      `count(process_resident_memory_bytes{service="${FOURTH.name}"})`,
      expect.stringContaining(`service="${FOURTH.name}"`),
      expect.stringContaining(`service="${FOURTH.name}"`),
    ])
  })
})

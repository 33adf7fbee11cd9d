import { configDefaults, defineConfig } from 'vitest/config'

const SUITES = [
  'services/*/test/**/*.test.ts',
  'infra/test/**/*.test.ts',
  'test/**/*.test.ts',
  'policy/test/**/*.test.ts',
  'bench/test/**/*.test.ts',
]

/**
 * The suites that need real servers: PostgreSQL and Consul from the global setup (read with
 * `inject`), or the services themselves listening on ports (as processes, or in this process
 * with `startPlatform`), with Prism or Prometheus in front. Every other suite is a unit suite and
 * runs without them. test/projects.test.ts fails when a suite that needs them is missing here.
 */
export const INTEGRATION_SUITES = [
  'services/kit/test/database.test.ts',
  'services/kit/test/discovery-consul.test.ts',
  // Every service with a database has one (test/support/repository-suite.ts).
  'services/*/test/repository.test.ts',
  'services/gateway/test/openapi.test.ts',
  'services/gateway/test/server.test.ts',
  'infra/test/dashboards-live.test.ts',
  'infra/test/observability-prometheus.test.ts',
  'test/real-servers.test.ts',
  'test/e2e/services.e2e.test.ts',
  'test/contract/fuzz.test.ts',
  'test/contract/readme-examples.test.ts',
]

// `npm test` runs both projects; `npm run test:unit` (`--project unit`) never starts the servers.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: SUITES,
          exclude: [...configDefaults.exclude, ...INTEGRATION_SUITES],
        },
      },
      {
        test: {
          name: 'integration',
          include: INTEGRATION_SUITES,
          globalSetup: ['test/support/real-servers.ts'],
        },
      },
    ],
  },
})

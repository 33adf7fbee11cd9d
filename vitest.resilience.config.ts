import { defineConfig } from 'vitest/config'

// The multi-instance resilience suite (test/resilience/): real service processes, a private
// Consul agent per file, PostgreSQL from the shared global setup, bounded load through the
// gateway. Files run one at a time: each drives load that must not compete with another's.
// Its files end in `.resilience.ts`, so `npm test` (vitest.config.ts) never picks them up.
export default defineConfig({
  test: {
    include: ['test/resilience/**/*.resilience.ts'],
    globalSetup: ['test/support/real-servers.ts'],
    testTimeout: 120_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
  },
})

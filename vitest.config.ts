import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['services/*/test/**/*.test.ts', 'infra/test/**/*.test.ts', 'test/**/*.test.ts', 'policy/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    globalSetup: ['test/support/real-servers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})

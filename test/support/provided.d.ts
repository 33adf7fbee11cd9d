// Values the global setup (real-servers.ts) hands to every test file through `inject()`.
// `undefined` when the server's binary is not installed (never on CI, where setup fails instead).
declare module 'vitest' {
  export interface ProvidedContext {
    /** `postgres://postgres@127.0.0.1:PORT/postgres` of a private PostgreSQL 15, trust auth. */
    postgresUrl: string | undefined
    /** `http://127.0.0.1:PORT` of a private Consul dev agent. */
    consulAddr: string | undefined
  }
}

export {}

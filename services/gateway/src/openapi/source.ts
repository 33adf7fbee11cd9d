import { HttpError, type OpenApiDocument, type Upstream } from '@platform/kit'
import { upstreamFailure } from '../upstream-error.ts'
import { mergeDocuments, type ServiceDocument } from './merge.ts'

export interface DocumentSourceOptions {
  /** The gateway's own document (its aggregate route). */
  readonly gateway: () => OpenApiDocument
  /** Each service whose document is merged, the prefix forwarded to it and how to reach it. */
  readonly services: readonly { readonly service: string; readonly prefix: string; readonly upstream: Upstream }[]
  /** How long a merged document is served before the services are asked again. */
  readonly maxAgeMs: number
  readonly now?: () => number
}

export interface DocumentSource {
  /** The merged document, fetched again once older than `maxAgeMs`; the last good one while a service cannot answer. */
  current(): Promise<OpenApiDocument>
}

/**
 * The public document, merged from what the running services say about themselves: each one
 * describes its routes from its own schemas, so a service deployed alone is described as it
 * runs, and the gateway carries no copy of their schemas. The merge is kept for `maxAgeMs`, so
 * a reader costs the services two small requests a minute at most.
 */
export function documentSource(options: DocumentSourceOptions): DocumentSource {
  const now = options.now ?? Date.now
  let last: { readonly document: OpenApiDocument; readonly at: number } | undefined
  let pending: Promise<OpenApiDocument> | undefined

  async function build(): Promise<OpenApiDocument> {
    const documents = await Promise.all(options.services.map(fetchDocument))
    const document = mergeDocuments(options.gateway(), documents)
    last = { document, at: now() }
    return document
  }

  return {
    async current() {
      if (last !== undefined && now() - last.at < options.maxAgeMs) return last.document
      pending ??= build().finally(() => (pending = undefined))
      try {
        return await pending
      } catch (error) {
        if (last !== undefined) return last.document
        throw error
      }
    },
  }
}

async function fetchDocument({ service, prefix, upstream }: DocumentSourceOptions['services'][number]): Promise<ServiceDocument> {
  let response
  try {
    response = await upstream.request({ method: 'GET', path: '/openapi.json', headers: { accept: 'application/json' } })
  } catch (error) {
    throw upstreamFailure(service, error)
  }
  if (response.statusCode !== 200) {
    await response.body.dump().catch(() => {})
    throw new HttpError(502, `${service} answered ${response.statusCode} for its API document`)
  }
  return { service, prefix, document: (await response.body.json()) as OpenApiDocument }
}

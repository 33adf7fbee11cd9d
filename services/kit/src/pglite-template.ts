// Makes the embedded database's template (pglite.ts) ahead of the first in-memory start, which
// would otherwise make it: services/Dockerfile runs this at build time. Prints where it is.
import { keepWasmOnBaselineTier, makePgliteTemplate, pgliteTemplatePath, writePgliteTemplate } from './pglite.ts'

keepWasmOnBaselineTier()
const { PGlite } = await import('@electric-sql/pglite')
const path = await pgliteTemplatePath()
await writePgliteTemplate(path, await makePgliteTemplate(PGlite))
console.log(path)

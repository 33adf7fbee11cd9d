// The stack configuration keys as the Markdown table infra/README.md holds, generated from the
// schema in infra/config.ts; infra/test/readme.test.ts fails when the README drifts.
// `npm run docs` rewrites it (with --write); without it, prints it.
import { configTable } from '../../infra/config.ts'
import { writeGeneratedSection } from '../lib/generated-section.ts'

if (process.argv.includes('--write'))
  writeGeneratedSection(new URL('../../infra/README.md', import.meta.url), 'config-table', configTable())
else process.stdout.write(`${configTable()}\n`)

// Prints the stack configuration keys as the Markdown table infra/README.md holds, generated
// from the schema in infra/config.ts; infra/test/readme.test.ts fails when the README drifts.
import { configTable } from '../../infra/config.ts'

process.stdout.write(`${configTable()}\n`)

// Loads the program the way Pulumi's nodejs host does with `typescript: false`: a dynamic
// import() of infra/index.ts by file URL, run by plain Node (its own type stripping, not
// vitest's transform), under mocks. Prints the stack's resource count and gateway URL as JSON.
import { pathToFileURL } from 'node:url'
import * as pulumi from '@pulumi/pulumi'
import { runProgram, stackConfigFile, valueOf } from './program.ts'

const entry = pathToFileURL(new URL('../../index.ts', import.meta.url).pathname).href
const run = await runProgram('dev', stackConfigFile(new URL('../../../Pulumi.dev.yaml', import.meta.url)), entry)
const gatewayUrl = await valueOf(run.program.gatewayUrl as pulumi.Output<string>)
process.stdout.write(`${JSON.stringify({ resources: run.resources.length, gatewayUrl, node: process.versions.node })}\n`)
process.exit(0)

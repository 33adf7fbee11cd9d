// Entry point for Pulumi's policy runner. `@pulumi/pulumi/cmd/run-policy-pack` loads the pack
// with require() and always registers ts-node for `.ts` files (it ignores PulumiPolicy.yaml's
// runtime options); ts-node cannot compile this ESM TypeScript. An ES module entry keeps
// ts-node out of the way: require() of ESM (Node 22.12+) loads this file, and Node itself
// strips the types of index.ts and what it imports, as it does for the program in infra/.
import './index.ts'

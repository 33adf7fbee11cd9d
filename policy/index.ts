// The policy pack `pulumi preview --policy-pack policy` (and `up`) runs: the policies of
// policies.ts, every one mandatory. Constructing a PolicyPack starts the gRPC server the Pulumi
// engine talks to, so only this module does it; the tests import policies.ts instead.
import { PolicyPack } from '@pulumi/policy'
import { policies } from './policies.ts'

new PolicyPack('microservice-platform', {
  description:
    'Guardrails of the microservice platform: restricted pods, pinned images, replicas with disruption budgets, no insecure dashboards, no plaintext credentials (prod); loopback-only ports and pinned images (dev).',
  enforcementLevel: 'mandatory',
  policies: [...policies],
})

// Pod and container security contexts that meet the `restricted` Pod Security Standard (non-root,
// no privilege escalation, every capability dropped, the runtime's seccomp profile), plus a
// read-only root filesystem. The app namespace enforces `restricted`, so a pod without these is
// refused at admission.
import type * as k8s from '@pulumi/kubernetes'

/** The service images' user and group (services/Dockerfile: `app`, 10001). */
export const APP_UID = 10001

export function restrictedPodSecurityContext(uid: number): k8s.types.input.core.v1.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  }
}

export function restrictedContainerSecurityContext(): k8s.types.input.core.v1.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  }
}

/** Labels that make the API server refuse pods below `level` in a namespace, and warn and audit at it. */
export function podSecurityLabels(level: 'restricted' | 'baseline' | 'privileged'): Record<string, string> {
  return {
    'pod-security.kubernetes.io/enforce': level,
    'pod-security.kubernetes.io/enforce-version': 'latest',
    'pod-security.kubernetes.io/warn': level,
    'pod-security.kubernetes.io/audit': level,
  }
}

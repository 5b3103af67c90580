// The Kubernetes manifests against the code they deploy: every variable
// they set is one the process reads and valid for it, probes and metrics
// point at the port the process listens on, grace periods cover the
// shutdown, probes wait long enough for /readyz, and the kustomization lists
// every file. No cluster needed.
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { GatewayConfigSchema, loadGatewayConfig } from '../services/gateway/src/config.js'
import { AuthConfigSchema, loadAuthConfig } from '../services/auth/src/config.js'
import { ContactConfigSchema, loadContactConfig } from '../services/contact/src/config.js'
import { loadMessageConfig, MessageConfigSchema } from '../services/message/src/config.js'
import { READINESS_CHECK_TIMEOUT_MS } from '../packages/runtime/src/ops.js'
import { REPO_ROOT } from './helpers/proc.js'

const K8S = path.join(REPO_ROOT, 'k8s')
type Doc = Record<string, any>

const services = {
  gateway: { schema: GatewayConfigSchema, load: loadGatewayConfig, port: (c: any) => c.PORT, opsPort: (c: any) => c.OPS_PORT ?? c.PORT },
  auth: { schema: AuthConfigSchema, load: loadAuthConfig, port: (c: any) => c.HTTP_PORT },
  contact: { schema: ContactConfigSchema, load: loadContactConfig, port: (c: any) => c.HTTP_PORT },
  message: { schema: MessageConfigSchema, load: loadMessageConfig, port: (c: any) => c.HTTP_PORT },
} as const

async function load (file: string): Promise<Doc[]> {
  const docs = parseAllDocuments(await readFile(path.join(K8S, file), 'utf8'))
  for (const d of docs) if (d.errors.length > 0) throw d.errors[0]
  return docs.map((d) => d.toJS() as Doc).filter(Boolean)
}

const kustomization = (await load('kustomization.yaml'))[0]!
const files = (await readdir(K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
const all = (await Promise.all(files.map(load))).flat()
const configMap = all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'chat-config')!

t.test('the kustomization lists every manifest and names every image', async (t) => {
  t.same([...kustomization.resources].sort(), [...files].sort())
  t.same(kustomization.images.map((i: Doc) => i.name).sort(), Object.keys(services).map((s) => `chat-${s}`).sort())
})

for (const [name, svc] of Object.entries(services)) {
  t.test(`${name}: the manifest matches the process`, async (t) => {
    const deployment = all.find((d) => d.kind === 'Deployment' && d.metadata.name === `chat-${name}`)
    if (!deployment) return t.fail('no Deployment')
    const pod = deployment.spec.template
    t.same(deployment.spec.selector.matchLabels, pod.metadata.labels, 'the selector selects its pods')
    const [container] = pod.spec.containers
    t.equal(container.image, `chat-${name}`, 'the image the kustomization rewrites')

    // Every variable set is one the process reads; together they validate.
    const env: Record<string, string> = { ...configMap.data }
    for (const e of container.env) env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? 'x'.repeat(40) : 'pod-name-0')
    const known = new Set(Object.keys(svc.schema))
    for (const key of Object.keys(env)) {
      // The shared ConfigMap holds settings some processes don't use (the gateway has no MongoDB).
      if (key in configMap.data && !container.env.some((e: Doc) => e.name === key)) continue
      t.ok(known.has(key), `${key} is read by ${name}`)
    }
    const config = svc.load(env)
    const port = svc.port(config)
    t.equal(container.ports[0].containerPort, port, 'the container port is the one it listens on')
    const opsPort = 'opsPort' in svc ? svc.opsPort(config) : port
    t.equal(pod.metadata.annotations['prometheus.io/port'], String(opsPort), 'metrics are scraped where they are served')
    t.ok(container.ports.some((p: Doc) => p.containerPort === opsPort && p.name === (opsPort === port ? container.ports[0].name : container.livenessProbe.httpGet.port)), 'the ops port is declared, and liveness probes it')
    t.equal(container.readinessProbe.httpGet.path, '/readyz')
    t.equal(container.livenessProbe.httpGet.path, '/healthz')
    t.equal(container.readinessProbe.httpGet.port, container.ports[0].name)
    t.notOk(container.env?.some((e: Doc) => e.name === 'JWT_SECRET'), 'no shared token secret')

    const preStopSeconds = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0)
    t.ok(container.env.some((e: Doc) => e.name === 'SHUTDOWN_GRACE_MS'), 'the grace period is set next to terminationGracePeriodSeconds')
    t.ok(pod.spec.terminationGracePeriodSeconds * 1000 > preStopSeconds * 1000 + config.SHUTDOWN_GRACE_MS, 'SIGKILL comes only after a graceful stop could finish')
    // The kubelet's default timeoutSeconds is 1.
    t.ok((container.readinessProbe.timeoutSeconds ?? 1) * 1000 > READINESS_CHECK_TIMEOUT_MS, 'a readiness probe answers (503 naming a slow check) before the kubelet gives up on it')

    const kinds = all.filter((d) => d.metadata.name === `chat-${name}`).map((d) => d.kind).sort()
    t.same(kinds, ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service'])
    const hpa = all.find((d) => d.kind === 'HorizontalPodAutoscaler' && d.metadata.name === `chat-${name}`)!
    t.equal(hpa.spec.scaleTargetRef.name, `chat-${name}`)
    t.ok(hpa.spec.minReplicas >= 2, 'never a single replica')
    const service = all.find((d) => d.kind === 'Service' && d.metadata.name === `chat-${name}`)!
    t.same(service.spec.selector, pod.metadata.labels)
    if (opsPort !== port) {
      const opsName = container.ports.find((p: Doc) => p.containerPort === opsPort)?.name
      t.notOk(service.spec.ports.some((p: Doc) => p.targetPort === opsName || p.targetPort === opsPort), 'the Service does not expose the ops port')
    }
  })
}

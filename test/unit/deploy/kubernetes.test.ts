/**
 * The kustomize base in deploy/kubernetes as shipped: every resource it lists validates against the
 * Kubernetes API schemas (kubernetes-models), and the properties that make patchbot run right hold:
 * a migrate Job, serve with liveness on /healthz and readiness on /readyz, a worker whose
 * termination grace outlasts its drain, read-only policy and SSH mounts, non-root everywhere, and
 * every ConfigMap and Secret a pod names either in the base or documented as the operator's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { checkPolicyText } from '../../../src/config/policy.js';
import { parseDuration } from '../../../src/config/values.js';

const BASE = join(import.meta.dirname, '../../../deploy/kubernetes');

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  envFrom?: ({ configMapRef?: { name: string } } & { secretRef?: { name: string } })[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  ports?: { name?: string; containerPort: number }[];
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  volumes?: {
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string; defaultMode?: number };
  }[];
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
};

function load(): {
  kustomization: { resources: string[]; images?: { name: string }[] };
  resources: Resource[];
} {
  const kustomization = parseAllDocuments(
    readFileSync(join(BASE, 'kustomization.yaml'), 'utf8'),
  )[0]?.toJS() as {
    kind: string;
    resources: string[];
    images?: { name: string }[];
  };
  expect(kustomization.kind).toBe('Kustomization');
  const resources = kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(BASE, file), 'utf8')).map((d) => {
      expect(d.errors, file).toEqual([]);
      return d.toJS() as Resource;
    }),
  );
  return { kustomization, resources };
}

const { kustomization, resources } = load();
const find = (kind: string, name: string) => {
  const r = resources.find((x) => x.kind === kind && x.metadata.name === name);
  if (!r) throw new Error(`no ${kind} ${name} in the base`);
  return r;
};
const podOf = (r: Resource): PodSpec =>
  (r as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const workloads = resources.filter((r) => r.kind === 'Deployment' || r.kind === 'Job');
const configMap = find('ConfigMap', 'patchbot') as unknown as { data: Record<string, string> };

describe('deploy/kubernetes (kustomize base)', () => {
  it('every resource is valid against the Kubernetes API schema of its kind', () => {
    expect(resources.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual([
      'ConfigMap/patchbot',
      'ConfigMap/patchbot-policy',
      'Deployment/patchbot-serve',
      'Deployment/patchbot-worker',
      'Job/patchbot-migrate',
      'Secret/patchbot',
      'Service/patchbot',
    ]);
    for (const r of resources) {
      const Model = MODELS[`${r.apiVersion}/${r.kind}`];
      expect(Model, `${r.apiVersion} ${r.kind}`).toBeDefined();
      expect(() => new Model(r as never).validate(), `${r.kind}/${r.metadata.name}`).not.toThrow();
    }
    // the validator does refuse a wrong manifest
    const broken = structuredClone(find('Deployment', 'patchbot-worker')) as unknown as {
      spec: { template: { spec: { terminationGracePeriodSeconds: unknown } } };
    };
    broken.spec.template.spec.terminationGracePeriodSeconds = '11m';
    expect(() => new Deployment(broken as never).validate()).toThrow(/terminationGracePeriodSeconds/);
  });

  it('a Job applies the migrations; serve and worker wait for them in an init container', () => {
    const job = podOf(find('Job', 'patchbot-migrate'));
    expect(job.containers[0]?.args).toEqual(['db', 'migrate']);
    expect(['Never', 'OnFailure']).toContain(job.restartPolicy);
    for (const name of ['patchbot-serve', 'patchbot-worker']) {
      const pod = podOf(find('Deployment', name));
      expect(
        pod.initContainers?.map((c) => c.args),
        name,
      ).toEqual([['db', 'migrate']]);
      expect(pod.containers[0]?.args, name).not.toContain('--migrate');
    }
    expect(podOf(find('Deployment', 'patchbot-serve')).containers[0]?.args).toEqual(['serve', '--no-worker']);
    expect(podOf(find('Deployment', 'patchbot-worker')).containers[0]?.args).toEqual([
      'worker',
      '--metrics-port',
      '9464',
    ]);
  });

  it('serve is live on /healthz and ready on /readyz, on the port it listens on', () => {
    const serve = podOf(find('Deployment', 'patchbot-serve')).containers[0];
    const port = serve.ports?.find((p) => p.containerPort === 3000);
    expect(port?.name).toBe('http');
    expect(serve.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(serve.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const service = find('Service', 'patchbot') as unknown as { spec: { ports: { targetPort: string }[] } };
    expect(service.spec.ports[0]?.targetPort).toBe('http');
  });

  it('the worker is live on /healthz and ready on /readyz on its metrics port, which it serves', () => {
    const worker = podOf(find('Deployment', 'patchbot-worker')).containers[0];
    const args = worker.args ?? [];
    const served = Number(args[args.indexOf('--metrics-port') + 1]);
    const port = worker.ports?.find((p) => p.name === 'metrics');
    expect(port?.containerPort).toBe(served);
    expect(worker.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(worker.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
  });

  it("gives the worker a termination grace longer than its drain (PATCHBOT_SHUTDOWN_GRACE), never cutting a host's install", () => {
    const drain = parseDuration(configMap.data.PATCHBOT_SHUTDOWN_GRACE ?? '');
    expect(drain).toBe(10 * 60_000);
    const grace = (podOf(find('Deployment', 'patchbot-worker')).terminationGracePeriodSeconds ?? 30) * 1000;
    expect(grace).toBeGreaterThan(drain!);
    expect(grace - drain!).toBeLessThanOrEqual(5 * 60_000);
  });

  it('runs every container as non-root, without privilege escalation, on a read-only root filesystem', () => {
    for (const w of workloads) {
      const pod = podOf(w);
      expect(pod.securityContext?.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser, w.metadata.name).toBeGreaterThan(0);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(
          kustomization.images?.map((i) => i.name),
          where,
        ).toContain(c.image);
      }
    }
  });

  it('mounts the policy and the SSH key read-only; the key is not readable by others', () => {
    for (const name of ['patchbot-serve', 'patchbot-worker']) {
      const pod = podOf(find('Deployment', name));
      const mounts = pod.containers[0]?.volumeMounts ?? [];
      const policy = mounts.find((m) => m.name === 'policy');
      const ssh = mounts.find((m) => m.name === 'ssh');
      expect(policy?.readOnly, name).toBe(true);
      expect(ssh?.readOnly, name).toBe(true);
      expect(configMap.data.PATCHBOT_CONFIG?.startsWith(`${policy?.mountPath}/`), name).toBe(true);
      const secret = pod.volumes?.find((v) => v.name === 'ssh')?.secret;
      expect(secret?.secretName, name).toBe('patchbot-ssh');
      expect((secret?.defaultMode ?? 0o644) & 0o007, name).toBe(0);
    }
  });

  it('every ConfigMap and Secret a pod names is in the base, but the SSH key the operator creates', () => {
    const inBase = new Set(resources.map((r) => `${r.kind}/${r.metadata.name}`));
    for (const w of workloads) {
      const pod = podOf(w);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])])
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef)
            expect(inBase.has(`ConfigMap/${e.configMapRef.name}`), w.metadata.name).toBe(true);
          if (e.secretRef) expect(inBase.has(`Secret/${e.secretRef.name}`), w.metadata.name).toBe(true);
        }
      for (const v of pod.volumes ?? []) {
        if (v.configMap) expect(inBase.has(`ConfigMap/${v.configMap.name}`), w.metadata.name).toBe(true);
        if (v.secret) expect(v.secret.secretName, w.metadata.name).toBe('patchbot-ssh');
      }
    }
  });

  it('ships a policy file that patchbot accepts, using the mounted SSH key', () => {
    const policy = find('ConfigMap', 'patchbot-policy') as unknown as { data: Record<string, string> };
    const check = checkPolicyText(policy.data['patchbot.yaml'] ?? '', 'patchbot.yaml');
    expect(check.errors).toEqual([]);
    expect(check.policy?.ssh.identityFile).toMatch(/^\/etc\/patchbot\/ssh\//);
  });
});

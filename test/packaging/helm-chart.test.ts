// The Helm chart as documented (charts/politburo/README.md, docs/configuration.md). `helm` cannot run here: the chart
// is rendered by test/packaging/helm-render.ts (Go templates and the Sprig functions it uses), and every rendered
// object is type-checked against the Kubernetes API types (kubernetes-types) by the TypeScript compiler: unknown keys,
// missing required fields, wrong types and wrong apiVersion/kind literals are errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';
import { manifestObjects, renderChart, type RenderedChart } from './helm-render.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHART = path.join(ROOT, 'charts/politburo');
const readme = readFileSync(path.join(CHART, 'README.md'), 'utf8');
const valuesText = readFileSync(path.join(CHART, 'values.yaml'), 'utf8');
const configurationDoc = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');

type Dict = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

/** Variables of docs/configuration.md the chart does not set, and why. */
const NOT_SET_BY_CHART: Record<string, string> = {
  GITHUB_PRIVATE_KEY: 'the chart mounts the key as a file and sets GITHUB_PRIVATE_KEY_PATH',
  POLITBURO_TEST_JOB_DELAY: 'a test seam only',
  'POLITBURO_SECRET_<NAME>': 'set from taskSecrets.existingSecret with envFrom',
  SSH_AUTH_SOCK: "an ssh-agent is an operator's; in the cluster the key comes from the ssh Secret",
};

/** Every variable in the tables of docs/configuration.md. */
function documentedVariables(): string[] {
  return [...configurationDoc.matchAll(/^\| `([A-Z][A-Z0-9_<>]+)` \|/gm)].map((m) => m[1]);
}

/** Everything optional switched on, with recognisable values. */
const EVERYTHING: Dict = {
  github: {
    appId: '12345',
    clientId: 'Iv1.0123456789abcdef',
    clientSecret: { existingSecret: 'politburo-github-oauth' },
    webhookSecret: { oldKey: 'GITHUB_WEBHOOK_SECRETS_OLD' },
  },
  ssh: { passphraseKey: 'passphrase', knownHostsKey: 'known_hosts', configKey: 'ssh_config', persist: '10m' },
  publicUrl: 'https://politburo.example.com',
  dashboard: { token: { existingSecret: 'politburo-dashboard' } },
  pollRepos: '/srv/infra#main',
  alertWebhookSecret: { existingSecret: 'politburo-alerts' },
  alertSigningSecret: { existingSecret: 'politburo-alert-signing' },
  alerts: { attempts: '7', timeout: '3s', backoff: '2s' },
  taskSecrets: { existingSecret: 'politburo-task-secrets' },
  database: { connectTimeout: '15s', queryTimeout: '5m' },
  queue: { workerHeartbeat: '6s', workerStaleAfter: '45s', ingestOnly: true },
  runs: { heartbeat: '7s', lease: '40s', startAhead: false },
  http: { headersTimeout: '11s', requestTimeout: '61s', keepAliveTimeout: '66s' },
  ingress: {
    enabled: true,
    className: 'nginx',
    annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
    tls: [{ secretName: 'politburo-tls', hosts: ['politburo.example.com'] }],
  },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
  extraEnv: [{ name: 'TZ', value: 'UTC' }],
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'politburo', effect: 'NoSchedule' }],
  imagePullSecrets: [{ name: 'registry' }],
};

const TYPES: Record<string, { module: string; type: string }> = {
  'apps/v1/Deployment': { module: 'kubernetes-types/apps/v1', type: 'Deployment' },
  'v1/Service': { module: 'kubernetes-types/core/v1', type: 'Service' },
  'v1/ServiceAccount': { module: 'kubernetes-types/core/v1', type: 'ServiceAccount' },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-types/policy/v1', type: 'PodDisruptionBudget' },
  'networking.k8s.io/v1/Ingress': { module: 'kubernetes-types/networking/v1', type: 'Ingress' },
};

/**
 * Type errors of the objects against the Kubernetes API types, as `FILE: message` lines. A prometheus-operator
 * ServiceMonitor is a custom resource without such types: only its metadata is checked.
 */
function kubernetesTypeErrors(objects: { file: string; object: Dict }[]): string[] {
  const lines = [
    "import type { ObjectMeta } from 'kubernetes-types/meta/v1';",
    ...new Set(Object.values(TYPES).map((t) => `import type { ${t.type} } from '${t.module}';`)),
  ];
  const where: string[] = [];
  objects.forEach(({ file, object }, i) => {
    const key = `${String(object.apiVersion)}/${String(object.kind)}`;
    const type = TYPES[key];
    if (type) lines.push(`export const o${i}: ${type.type} = ${JSON.stringify(object)};`);
    else if (key === 'monitoring.coreos.com/v1/ServiceMonitor')
      lines.push(`export const o${i}: ObjectMeta = ${JSON.stringify(object.metadata)};`);
    else lines.push(`export const o${i}: never = ${JSON.stringify(key)}; // no Kubernetes type known for it`);
    where[i] = file;
  });
  const file = path.join(ROOT, 'test/packaging/rendered-manifests.generated.ts'); // never written
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => f === file || fileExists.call(host, f);
  host.readFile = (f) => (f === file ? text : readFile.call(host, f));
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, text, lang) : getSourceFile.call(host, f, lang, ...rest);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const index = line - (lines.length - objects.length);
    return `${where[index] ?? d.file.fileName}: ${message}`;
  });
}

function objectsOf(rendered: RenderedChart): { file: string; object: Dict }[] {
  return manifestObjects(rendered);
}

function deploymentOf(rendered: RenderedChart): Dict {
  const found = objectsOf(rendered).find((o) => o.object.kind === 'Deployment');
  assert.ok(found, 'a Deployment is rendered');
  return found.object;
}

function containerOf(rendered: RenderedChart): { env: EnvVar[]; envFrom?: Dict[]; volumeMounts: Dict[] } {
  const spec = (deploymentOf(rendered).spec as Dict).template as Dict;
  return ((spec.spec as Dict).containers as never[])[0];
}

function envOf(rendered: RenderedChart): Map<string, EnvVar> {
  return new Map(containerOf(rendered).env.map((e) => [e.name, e]));
}

describe('the Helm chart', () => {
  test('with the default values: Deployment, Service, ServiceAccount and PodDisruptionBudget, valid Kubernetes', () => {
    const rendered = renderChart(CHART);
    const objects = objectsOf(rendered);
    assert.deepEqual(objects.map((o) => o.object.kind).sort(), [
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    assert.deepEqual(kubernetesTypeErrors(objects), []);
  });

  test('with everything switched on (Ingress, ServiceMonitor, every optional variable): still valid', () => {
    const rendered = renderChart(CHART, EVERYTHING);
    const objects = objectsOf(rendered);
    assert.deepEqual(objects.map((o) => o.object.kind).sort(), [
      'Deployment',
      'Ingress',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    assert.deepEqual(kubernetesTypeErrors(objects), []);
  });

  test('the type check catches what the API server would refuse (the check itself works)', () => {
    const rendered = renderChart(CHART);
    const objects = objectsOf(rendered).map(({ file, object }) => {
      if (object.kind !== 'Service') return { file, object };
      const spec = object.spec as Dict;
      return { file, object: { ...object, spec: { ...spec, prots: spec.ports, ports: undefined } } };
    });
    const errors = kubernetesTypeErrors(objects);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^service\.yaml: .*prots.*ServiceSpec/);
  });

  test('every variable of docs/configuration.md is set by the chart from a value (or a Secret)', () => {
    const documented = documentedVariables();
    assert.ok(documented.length >= 30, `the variables are read from docs/configuration.md (${documented.length})`);
    const env = envOf(renderChart(CHART, EVERYTHING));
    const tokenEnv = envOf(renderChart(CHART, { github: { token: { existingSecret: 'politburo-github-token' } } }));
    const missing = documented.filter((name) => !(name in NOT_SET_BY_CHART) && !env.has(name) && !tokenEnv.has(name));
    assert.deepEqual(missing, [], 'variables the chart cannot set');
    assert.deepEqual(
      containerOf(renderChart(CHART, EVERYTHING)).envFrom,
      [{ secretRef: { name: 'politburo-task-secrets' } }],
      'POLITBURO_SECRET_<NAME> variables come from the task secrets Secret',
    );
    // Values reach their variables.
    const expected: Record<string, string> = {
      POLITBURO_DB_CONNECT_TIMEOUT: '15s',
      POLITBURO_DB_QUERY_TIMEOUT: '5m',
      POLITBURO_WORKER_HEARTBEAT: '6s',
      POLITBURO_WORKER_STALE_AFTER: '45s',
      POLITBURO_INGEST_ONLY: 'true',
      POLITBURO_RUN_HEARTBEAT: '7s',
      POLITBURO_RUN_LEASE: '40s',
      POLITBURO_ALERT_ATTEMPTS: '7',
      POLITBURO_ALERT_TIMEOUT: '3s',
      POLITBURO_ALERT_BACKOFF: '2s',
      POLITBURO_HTTP_HEADERS_TIMEOUT: '11s',
      POLITBURO_HTTP_REQUEST_TIMEOUT: '61s',
      POLITBURO_HTTP_KEEP_ALIVE_TIMEOUT: '66s',
      POLITBURO_PUBLIC_URL: 'https://politburo.example.com',
      POLITBURO_REPOS: '/srv/infra#main',
      POLITBURO_SSH_KEY: '/etc/politburo/ssh/id_ed25519',
      POLITBURO_KNOWN_HOSTS: '/etc/politburo/ssh/known_hosts',
      POLITBURO_SSH_CONFIG: '/etc/politburo/ssh/ssh_config',
      GITHUB_APP_ID: '12345',
      GITHUB_PRIVATE_KEY_PATH: '/etc/politburo/github/private-key.pem',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env.get(name)?.value, value, name);
    assert.deepEqual(env.get('POLITBURO_SSH_KEY_PASSPHRASE')?.valueFrom, {
      secretKeyRef: { name: 'politburo-ssh', key: 'passphrase' },
    });
    assert.deepEqual(env.get('POLITBURO_ALERT_SECRET')?.valueFrom, {
      secretKeyRef: { name: 'politburo-alert-signing', key: 'POLITBURO_ALERT_SECRET' },
    });
    assert.deepEqual(env.get('GITHUB_WEBHOOK_SECRETS_OLD')?.valueFrom, {
      secretKeyRef: { name: 'politburo-github-webhook', key: 'GITHUB_WEBHOOK_SECRETS_OLD' },
    });
    // Unset optional values leave Politburo's defaults alone.
    const defaults = envOf(renderChart(CHART));
    for (const name of ['POLITBURO_RUN_LEASE', 'POLITBURO_WORKER_STALE_AFTER', 'POLITBURO_INGEST_ONLY'])
      assert.ok(!defaults.has(name), `${name} is not set by default`);
  });

  test('every value the templates read is declared in values.yaml, and every variable is named there', () => {
    const values = YAML.parse(valuesText) as Dict;
    const templates = readdirSync(path.join(CHART, 'templates'))
      .map((f) => readFileSync(path.join(CHART, 'templates', f), 'utf8'))
      .join('\n');
    const undeclared = [...new Set([...templates.matchAll(/\.Values\.([\w.]+)/g)].map((m) => m[1]))].filter((ref) => {
      let v: unknown = values;
      for (const key of ref.split('.')) {
        if (!v || typeof v !== 'object' || !(key in (v as Dict))) return true;
        v = (v as Dict)[key];
      }
      return false;
    });
    assert.deepEqual(undeclared, []);
    const unnamed = documentedVariables().filter(
      (name) => !(name in NOT_SET_BY_CHART) && !['PORT', 'HOST', 'POLITBURO_DATA_DIR'].includes(name),
    );
    assert.deepEqual(
      unnamed.filter((name) => !valuesText.includes(name)),
      [],
      "values.yaml's comments name the variable each value sets",
    );
  });

  test('GitHub App or token: the token is passed only without an App, as values.yaml says', () => {
    assert.match(valuesText, /GITHUB_TOKEN\), set only when appId is empty/);
    const both = renderChart(CHART, {
      github: { appId: '1', token: { existingSecret: 'politburo-github-token' } },
    });
    const bothEnv = envOf(both);
    assert.ok(bothEnv.has('GITHUB_APP_ID'));
    assert.ok(!bothEnv.has('GITHUB_TOKEN'), 'an App wins: no token beside it');
    assert.ok(containerOf(both).volumeMounts.some((m) => m.mountPath === '/etc/politburo/github'));
    const token = renderChart(CHART, { github: { token: { existingSecret: 'politburo-github-token' } } });
    const tokenEnv = envOf(token);
    assert.deepEqual(tokenEnv.get('GITHUB_TOKEN')?.valueFrom, {
      secretKeyRef: { name: 'politburo-github-token', key: 'GITHUB_TOKEN' },
    });
    assert.ok(!tokenEnv.has('GITHUB_APP_ID'));
    assert.ok(!containerOf(token).volumeMounts.some((m) => m.mountPath === '/etc/politburo/github'));
  });

  test("the optional Ingress routes GitHub's webhook path to the Service", () => {
    assert.ok(!objectsOf(renderChart(CHART)).some((o) => o.object.kind === 'Ingress'), 'off by default');
    const rendered = renderChart(CHART, EVERYTHING);
    const ingress = objectsOf(rendered).find((o) => o.object.kind === 'Ingress')!.object as {
      spec: { ingressClassName: string; rules: { host: string; http: { paths: Dict[] } }[]; tls: Dict[] };
    };
    const service = objectsOf(rendered).find((o) => o.object.kind === 'Service')!.object as {
      metadata: { name: string };
      spec: { ports: { name: string }[] };
    };
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.equal(ingress.spec.rules[0].host, 'politburo.example.com');
    assert.deepEqual(ingress.spec.rules[0].http.paths, [
      {
        path: '/webhooks/github',
        pathType: 'Exact',
        backend: { service: { name: service.metadata.name, port: { name: 'http' } } },
      },
    ]);
    assert.ok(service.spec.ports.some((p) => p.name === 'http'));
    assert.match(rendered.notes, /webhook at https:\/\/politburo\.example\.com\/webhooks\/github/);
  });

  test('NOTES.txt and the README say which Secrets to create, with which keys', () => {
    const notes = renderChart(CHART, { github: { appId: '1' } }).notes;
    for (const line of [
      'politburo-database: key DATABASE_URL',
      'politburo-ssh: key id_ed25519',
      'politburo-github-webhook: key GITHUB_WEBHOOK_SECRET',
      'politburo-github-app: key private-key.pem',
    ])
      assert.ok(notes.includes(line), `NOTES.txt: ${line}\n${notes}`);
    const tokenNotes = renderChart(CHART, { github: { token: { existingSecret: 'politburo-github-token' } } }).notes;
    assert.ok(tokenNotes.includes('politburo-github-token: key GITHUB_TOKEN'), tokenNotes);
    assert.ok(!tokenNotes.includes('private-key.pem'));
    for (const [secret, key] of [
      ['politburo-database', 'DATABASE_URL'],
      ['politburo-ssh', 'id_ed25519'],
      ['politburo-github-webhook', 'GITHUB_WEBHOOK_SECRET'],
      ['politburo-github-app', 'private-key.pem'],
    ]) {
      // The command may go on over lines ending in a backslash.
      const command = new RegExp(
        `kubectl create secret generic ${secret} (?:[^\\n]|\\\\\\n)*${key.replace('.', '\\.')}`,
      );
      assert.match(readme, command);
    }
  });
});

/**
 * The folder rules of docs/architecture.md, checked by `npm run lint`. Each rule names a direction that must not
 * exist; together they keep the picture in that document true.
 */
const folders = (...names) => `^(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'kernel-imports-nothing-of-ours',
      comment: 'kernel/ is the shared vocabulary: every folder may use it, it uses none of them.',
      severity: 'error',
      from: { path: '^kernel/' },
      to: { path: folders('schema', 'reconciler', 'hosts', 'store', 'render', 'webhooks', 'controller', 'cli') },
    },
    {
      name: 'schema-is-the-language-only',
      comment: 'schema/ reads and checks descriptions; it knows nothing of how they are applied.',
      severity: 'error',
      from: { path: '^schema/' },
      to: { path: folders('reconciler', 'hosts', 'store', 'render', 'webhooks', 'controller', 'cli') },
    },
    {
      name: 'reconciler-uses-ports-not-adapters',
      comment:
        'The engine talks to hosts and the database through the ports of kernel/types.ts, injected by its caller.',
      severity: 'error',
      from: { path: '^reconciler/' },
      to: { path: folders('hosts', 'store', 'render', 'webhooks', 'controller', 'cli') },
    },
    {
      name: 'adapters-stand-alone',
      comment:
        'hosts/, store/ and render/ implement or present kernel types; they do not call the engine or each other.',
      severity: 'error',
      from: { path: folders('hosts', 'store', 'render') },
      to: { path: folders('schema', 'reconciler', 'webhooks', 'controller', 'cli') },
    },
    {
      name: 'adapters-do-not-use-each-other',
      severity: 'error',
      from: { path: '^hosts/' },
      to: { path: folders('store', 'render') },
    },
    {
      name: 'store-does-not-use-other-adapters',
      severity: 'error',
      from: { path: '^store/' },
      to: { path: folders('hosts', 'render') },
    },
    {
      name: 'render-does-not-use-other-adapters',
      severity: 'error',
      from: { path: '^render/' },
      to: { path: folders('hosts', 'store') },
    },
    {
      name: 'webhooks-is-the-edge',
      comment: 'webhooks/ verifies, stores and routes deliveries; the controller calls it, never the other way round.',
      severity: 'error',
      from: { path: '^webhooks/' },
      to: { path: folders('reconciler', 'hosts', 'store', 'render', 'controller', 'cli') },
    },
    {
      name: 'controller-below-cli',
      severity: 'error',
      from: { path: '^controller/' },
      to: { path: '^cli/' },
    },
    {
      name: 'shipped-code-does-not-use-tests-or-benches',
      severity: 'error',
      from: {
        path: folders('kernel', 'schema', 'reconciler', 'hosts', 'store', 'render', 'webhooks', 'controller', 'cli'),
      },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'shipped-code-uses-only-runtime-dependencies',
      comment: 'devDependencies are not installed with the package.',
      severity: 'error',
      from: {
        path: folders('kernel', 'schema', 'reconciler', 'hosts', 'store', 'render', 'webhooks', 'controller', 'cli'),
      },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'Modules never import each other in a circle.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    exclude: { path: '^(dist|node_modules)/' },
  },
};

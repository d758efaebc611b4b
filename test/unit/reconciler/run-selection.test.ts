import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectNodes } from '../../../reconciler/run-selection.js';
import { parseTarget } from '../../../reconciler/target.js';
import type { Plan, PlanAction, PlannedNode, RecordedNode, ResolvedNode } from '../../../kernel/types.js';

const pos = { file: 'politburo.yml', line: 1, column: 1 };
function planned(path: string, action: PlanAction, deps: string[] = []): PlannedNode {
  const node: ResolvedNode = {
    path,
    name: path.split('/').pop()!,
    host: { kind: 'static', address: `h-${path}`, port: 22, user: 'u', source: pos },
    tasks: [],
    dependsOn: deps.map((d) => ({ path: d, state: 'ready', kind: 'explicit', source: pos })),
    source: pos,
    specHash: 'x',
  };
  const recorded = action === 'create' ? undefined : ({ path, state: 'ready' } as RecordedNode);
  return {
    path,
    host: node.host.kind === 'static' ? node.host.address : null,
    action,
    changes: [],
    node: action === 'terminate' ? undefined : node,
    recorded,
  };
}
const plan = (nodes: PlannedNode[]): Plan => ({
  environment: 'prod',
  commit: null,
  nodes,
  summary: { create: 0, update: 0, unchanged: 0, terminate: 0 },
});
const paths = (xs: PlannedNode[]) => xs.map((x) => x.path);

const lamp = plan([
  planned('database/master', 'unchanged'),
  planned('database/replica-1', 'create', ['database/master']),
  planned('web-1', 'update', ['database/master']),
  planned('web-2', 'unchanged', ['database/master']),
  planned('lb', 'create', ['web-1', 'web-2']),
  planned('old', 'terminate'),
]);

test('without a target: the plan changes (or everything with --all), and the terminations', () => {
  const s = selectNodes(lamp, {});
  assert.deepEqual(paths(s.configure), ['database/replica-1', 'web-1', 'lb']);
  assert.deepEqual(paths(s.terminate), ['old']);
  assert.equal(paths(selectNodes(lamp, { all: true }).configure).length, 5);
});

test('a target path narrows to its nodes plus the dependencies that still need work', () => {
  assert.deepEqual(paths(selectNodes(lamp, { target: parseTarget('prod:lb') }).configure), ['web-1', 'lb']);
  assert.deepEqual(
    paths(selectNodes(lamp, { target: parseTarget('prod:web-2') }).configure),
    [],
    'unchanged: nothing to do without --all',
  );
  assert.deepEqual(paths(selectNodes(lamp, { target: parseTarget('prod:web-2'), all: true }).configure), [
    'database/master',
    'web-2',
  ]);
  assert.deepEqual(paths(selectNodes(lamp, { target: parseTarget('prod:lb'), all: true }).configure), [
    'database/master',
    'web-1',
    'web-2',
    'lb',
  ]);
  const prov = selectNodes(lamp, { target: parseTarget('prod:lb#provisioned') });
  assert.deepEqual([paths(prov.configure), prov.provisionOnly], [['lb'], true]);
  assert.throws(
    () => selectNodes(lamp, { target: parseTarget('prod:nosuch') }),
    /target path 'nosuch' names no node of environment 'prod'/,
  );
  assert.throws(
    () => selectNodes(lamp, { target: parseTarget('prod:wbe') }),
    /names no node of environment 'prod' \(did you mean 'web'\?\)/,
  );
});

test('#terminated: the recorded nodes under the path, or of the whole environment', () => {
  assert.deepEqual(paths(selectNodes(lamp, { target: parseTarget('prod:web#terminated') }).terminate), [
    'web-1',
    'web-2',
  ]);
  const all = selectNodes(lamp, { target: parseTarget('prod#terminated') });
  assert.deepEqual([paths(all.configure), paths(all.terminate)], [[], ['database/master', 'web-1', 'web-2', 'old']]);
});

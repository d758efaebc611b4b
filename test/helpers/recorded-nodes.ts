/**
 * Recorded nodes of a large environment (three tasks each, one in a hundred failed), for store tests and bench/store.
 */
import type { RecordedNode, TaskSpec } from '../../kernel/types.js';

const src = { file: 'politburo.yml', line: 3, column: 7 };

/** The i-th of many recorded web nodes. */
export function sampleRecordedNode(i: number): RecordedNode {
  const tasks: TaskSpec[] = [
    { kind: 'babushka', name: 'lamp base', dep: 'lamp base', args: {}, source: src },
    {
      kind: 'babushka',
      name: 'app deployed',
      dep: 'app deployed',
      args: { ref: 'v1.4.2', db: '10.0.0.1' },
      source: src,
    },
    {
      kind: 'shell',
      name: 'swappiness tuned',
      met: 'test "$(sysctl -n vm.swappiness)" = 10',
      meet: 'sysctl -w vm.swappiness=10',
      source: src,
    },
  ];
  return {
    path: `web-${String(i).padStart(5, '0')}`,
    host: `10.1.${i >> 8}.${i & 255}`,
    port: 22,
    user: 'deploy',
    specHash: `hash-${i}`,
    tasks,
    state: i % 100 === 0 ? 'failed' : 'ready',
    reason: i % 100 === 0 ? 'TaskFailed' : null,
    lastAppliedCommit: 'abc',
    lastRunId: null,
  };
}

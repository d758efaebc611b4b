/** One palette for every drawing of lifecycle states (dot, mermaid, svg, dashboard). */
import type { LifecycleState } from '../../kernel/types.js';

/** Fill and border colour per lifecycle state. */
export const STATE_COLOURS: Record<LifecycleState, { fill: string; stroke: string }> = {
  defined: { fill: '#e5e7eb', stroke: '#6b7280' },
  provisioning: { fill: '#dbeafe', stroke: '#2563eb' },
  provisioned: { fill: '#c7d2fe', stroke: '#4338ca' },
  configuring: { fill: '#bfdbfe', stroke: '#1d4ed8' },
  ready: { fill: '#bbf7d0', stroke: '#15803d' },
  failed: { fill: '#fecaca', stroke: '#b91c1c' },
  blocked: { fill: '#fed7aa', stroke: '#c2410c' },
  drifted: { fill: '#fef08a', stroke: '#a16207' },
  terminating: { fill: '#e9d5ff', stroke: '#7e22ce' },
  terminated: { fill: '#f3f4f6', stroke: '#9ca3af' },
};

/** Colours of a node whose state is unknown (no state store reachable). */
export const UNKNOWN_COLOURS = { fill: '#ffffff', stroke: '#374151' };

export const STATE_ORDER: LifecycleState[] = [
  'defined',
  'provisioning',
  'provisioned',
  'configuring',
  'ready',
  'drifted',
  'blocked',
  'failed',
  'terminating',
  'terminated',
];

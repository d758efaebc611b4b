/**
 * Exit status of a Babushka command started ahead and held (docs/babushka.md, "Started ahead") that never reached
 * Babushka: the probe failed, nothing released it, or the hold could not be set up. Its node's run then starts the
 * command afresh. Shared by the host side (hosts/babushka-hold.ts) and escalated commands (reconciler/tasks/become.ts).
 */
export const HOLD_FAILED = 125;

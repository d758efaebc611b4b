/**
 * `politburo connections [--close] [--json]`: the SSH connections the connection keeper keeps between runs
 * (`--ssh-persist`, docs/cli.md), as `ssh -O check` shows a ControlMaster's; with `--close`, ends them and the keeper
 * (`ssh -O exit`). Contacts no host.
 */
import type { Command } from 'commander';
import ms from 'ms';
import { alignTable } from '../render/align-table.js';
import { addJsonOption, CliExit, EXIT_ERROR, printJson, readCliEnv, type JsonOption } from '../common.js';
import { keptConnections } from '../../hosts/keeper-client.js';
import { defaultKeeperDir } from '../../hosts/keeper-socket.js';
import type { KeptConnection } from '../../hosts/keeper-protocol.js';

const duration = (v: number) => ms(Math.round(v / 1000) * 1000);

function render(kept: KeptConnection[], closing: boolean): string {
  if (kept.length === 0) return closing ? 'Nothing was kept; the keeper has ended.\n' : 'No connection is kept.\n';
  const rows = [['HOST', 'IN USE BY', 'COMMANDS', 'IDLE', 'KEPT FOR']];
  for (const k of kept) {
    const idle = k.users || k.channels ? '-' : duration(k.idleMs);
    const keptFor = k.persistMs === null ? 'until closed' : duration(k.persistMs);
    rows.push([k.label, String(k.users), String(k.channels), idle, keptFor]);
  }
  const n = `${kept.length} connection${kept.length === 1 ? '' : 's'}`;
  return `${alignTable(rows)}\n${closing ? `${n} closed; the keeper has ended.` : `${n} kept.`}\n`;
}

/** Adds `politburo connections`. */
export function registerConnections(program: Command): void {
  const cmd = program.command('connections');
  addJsonOption(cmd)
    .description('show the SSH connections kept between runs (--ssh-persist); --close ends them')
    .option('--close', 'close every kept connection and end the connection keeper')
    .action(async (opts: JsonOption & { close?: boolean }) => {
      const dir = readCliEnv().sshPersistDir ?? defaultKeeperDir();
      const kept = await keptConnections(dir, { close: opts.close }).catch((err: Error) => {
        throw new CliExit(EXIT_ERROR, err.message);
      });
      if (opts.json) return printJson({ keeper: kept !== null, connections: kept ?? [] });
      if (kept === null) return void process.stdout.write('No connection keeper is running: nothing is kept.\n');
      process.stdout.write(render(kept, !!opts.close));
    });
}

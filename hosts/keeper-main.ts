/**
 * The connection keeper's process (keeper-server.ts), started detached by the first Politburo process that keeps
 * connections (keeper-client.ts): `node keeper-main.js SOCKET`. Its log goes to the file its stdout is.
 */
import { runKeeper } from './keeper-server.js';
import { listenAfterStale } from './keeper-socket.js';

const socketPath = process.argv[2];
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} keeper[${process.pid}]: ${line}\n`);
if (!socketPath) {
  log('usage: keeper-main SOCKET');
  process.exit(2);
}
process.on('SIGHUP', () => undefined); // outlives the terminal that started it, as ControlPersist's master does
try {
  await listenAfterStale(socketPath, () => runKeeper(socketPath, log), log);
  process.exit(0);
} catch (err) {
  log(`cannot keep connections: ${(err as Error).message}`);
  process.exit(1);
}

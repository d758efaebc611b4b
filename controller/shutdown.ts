/** Signals: SIGTERM/SIGINT stop the controller gracefully and exit 0; a second signal exits at once. */
import type { Logger } from './logger.js';

/** Installs the handlers; returns a function removing them. */
export function handleShutdownSignals(
  stop: (reason: string) => Promise<void>,
  logger: Logger,
  exit: (code: number) => void = process.exit,
): () => void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      exit(1);
      return;
    }
    received = true;
    stop(`received ${signal}`).then(
      () => exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

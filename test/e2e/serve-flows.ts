/**
 * `politburo serve` with the flows wired in, as a child process of the crash and replica tests: configured from the
 * environment like the CLI, prints `READY <url>` once listening, stops on SIGTERM (SIGKILL is the crash under test).
 */
import { readConfig } from '../../controller/config.js';
import { createFlows } from '../../controller/jobs/flows.js';
import { createLogger } from '../../controller/logger.js';
import { startController } from '../../controller/main.js';

const config = readConfig(process.env);
const logger = createLogger({ level: config.logLevel, destination: process.stderr });
const flows = createFlows({ driftRefreshMs: 1000 });
const controller = await startController(config, { logger, createTaskList: flows.createTaskList, pollOnce: flows.pollOnce });
process.stdout.write(`READY ${controller.url}\n`);
process.once('SIGTERM', () => {
  void flows
    .stop()
    .then(() => controller.stop('SIGTERM'))
    .finally(() => process.exit(0));
});

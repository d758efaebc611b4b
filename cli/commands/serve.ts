/** `politburo serve`: the controller, configured from the environment (docs/configuration.md). */
import type { Command } from 'commander';
import { readConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/logger.js';
import { startController } from '../../controller/main.js';
import { handleShutdownSignals } from '../../controller/shutdown.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the controller: GitHub webhooks, durable queue, poll mode, dashboard (configured by environment variables)',
    )
    .option('--port <port>', 'HTTP port (default PORT or 8080)')
    .option('--database-url <url>', 'PostgreSQL URL (default DATABASE_URL; with neither, an embedded PostgreSQL)')
    .action(async (opts: { port?: string; databaseUrl?: string }) => {
      const env = {
        ...process.env,
        ...(opts.port ? { PORT: opts.port } : {}),
        ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
      };
      const config = readConfig(env);
      const logger = createLogger({ level: config.logLevel });
      const controller = await startController(config, { logger });
      handleShutdownSignals((reason) => controller.stop(reason), logger);
      logger.info(
        { url: controller.url, worker: controller.worker.processId },
        `politburo controller listening on ${controller.url}`,
      );
      if (!config.github.webhookSecrets.length)
        logger.warn('GITHUB_WEBHOOK_SECRET is not set: webhook deliveries are refused (401)');
      // Keep the command pending until a signal stops the process.
      await new Promise<never>(() => {});
    });
}

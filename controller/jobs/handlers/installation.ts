/** The GitHub App installed on repositories, or removed from them. */
import type { RegisterRepositories, UnregisterRepositories } from '../../../webhooks/commands.js';
import type { CommandHandler } from './context.js';

export const registerRepositories: CommandHandler<RegisterRepositories> = async (deps, c) => {
  await deps.deliveries.registerRepositories(c.repositories);
  return `registered ${c.repositories.length} repositories`;
};

/**
 * Nothing is deleted: a repository's environments and runs are its history (and the App may be installed again).
 * Without the App, its pushes and pull requests no longer arrive.
 */
export const unregisterRepositories: CommandHandler<UnregisterRepositories> = async (_deps, c, ctx) => {
  ctx.log.info(
    { repositories: c.repositories },
    'the GitHub App was removed from repositories: their records are kept',
  );
  return `removed from the installation: ${c.repositories.length} repositories (records kept)`;
};

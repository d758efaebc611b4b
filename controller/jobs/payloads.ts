/** Validation of job payloads: a malformed payload is a terminal error naming what is wrong, never a crash. */
import { COMMIT_SHA } from '../../kernel/commit.js';
import { RepositorySchema, type Repository } from '../../kernel/repository.js';
import { z } from 'zod';
import type { ApplyEnvironmentJob, GitHubDeliveryJob, DriftEnvironmentJob, PlanPullRequestJob } from '../ports.js';
import { TerminalError } from '../queue/terminal-error.js';

const sha = z.string().regex(COMMIT_SHA, 'a full commit SHA');
const repo = RepositorySchema;
const environment = z.string().min(1).max(200);

const schemas = {
  delivery: z.object({ deliveryId: z.string().min(1) }),
  apply: z.object({
    repo,
    environment,
    sha,
    supersedes: z.array(sha).optional(),
    trigger: z.string().default(''),
    describedAt: sha.optional(),
    pullRequest: z.object({ number: z.number().int().positive() }).optional(),
  }),
  plan: z
    .object({
      repo,
      pullNumber: z.number().int().positive().optional(),
      mergeGroup: z.object({ headRef: z.string().min(1), baseBranch: z.string().min(1) }).optional(),
      headSha: sha,
      baseSha: sha,
      environment: environment.optional(),
      live: z.boolean().default(false),
      commentId: z.number().int().optional(),
      notice: z.string().optional(),
      trigger: z.string().default(''),
    })
    .refine((j) => (j.pullNumber === undefined) !== (j.mergeGroup === undefined), {
      message: 'exactly one of pullNumber and mergeGroup',
    }),
  drift: z.object({ repo, environment, heal: z.boolean().default(false), trigger: z.string().default('schedule') }),
};

function parse<T>(what: string, schema: z.ZodType<T>, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
  throw new TerminalError(`invalid ${what} job payload: ${problems}`);
}

/** Payload validators of each job: the typed payload, or a TerminalError naming every problem. */
export const parseGitHubDeliveryJob = (p: unknown): GitHubDeliveryJob => parse('github-delivery', schemas.delivery, p);
export const parseApplyEnvironmentJob = (p: unknown): ApplyEnvironmentJob & { repo: Repository } =>
  parse('apply-environment', schemas.apply, p);
export const parsePlanPullRequestJob = (p: unknown): PlanPullRequestJob => parse('plan-pull-request', schemas.plan, p);
export const parseDriftEnvironmentJob = (p: unknown): DriftEnvironmentJob =>
  parse('drift-environment', schemas.drift, p);

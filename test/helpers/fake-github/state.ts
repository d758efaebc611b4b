/** In-memory GitHub: what the fake server keeps, shaped like GitHub's own objects (ids, bodies, states). */
import { randomInt } from 'node:crypto';

export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

export interface FakeCheckRun {
  id: number;
  repo: string;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  details_url: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  annotations: Record<string, unknown>[];
}

export interface FakeStatus {
  id: number;
  repo: string;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  target_url: string | null;
}

export interface FakeComment {
  id: number;
  repo: string;
  issue_number: number;
  body: string;
  user: string;
  reactions: string[];
}

export interface FakeIssue {
  id: number;
  repo: string;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  state_reason: string | null;
  labels: string[];
  pull_request?: boolean;
}

/** A commit comment (`commit_comment`): where `/politburo apply ENV` can be answered. */
export interface FakeCommitComment {
  id: number;
  repo: string;
  commit_id: string;
  body: string;
  user: string;
}

/** A pull request's merge state, as `GET /repos/{owner}/{repo}/pulls/{pull_number}` answers it. */
export interface FakePull {
  repo: string;
  number: number;
  head_sha: string;
  base_sha: string;
  merged: boolean;
  merge_commit_sha: string | null;
  /** `open` unless merged (then `closed`); set `closed` for a closed, unmerged pull request. */
  state?: 'open' | 'closed';
  /** The head's repository `owner/name` (a fork's); default the repository itself. */
  head_repo?: string;
  head_ref?: string;
  /** Default `main`. */
  base_ref?: string;
  /** Default `clean`; `unknown` answers `mergeable: null` (GitHub has not computed it yet). */
  mergeable_state?: string;
  reviews?: { user: string; state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED'; commit_id?: string }[];
}

/** A deployment status, as `POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses` records it. */
export interface FakeDeploymentStatus {
  id: number;
  state: 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';
  description: string;
  environment: string;
  log_url: string;
  environment_url: string;
  created_at: string;
}

/** A deployment (`POST /repos/{owner}/{repo}/deployments`), its statuses oldest first. */
export interface FakeDeployment {
  id: number;
  repo: string;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  description: string | null;
  payload: Record<string, unknown> | string;
  transient_environment: boolean;
  production_environment: boolean;
  created_at: string;
  statuses: FakeDeploymentStatus[];
}

export interface FakeState {
  deployments: FakeDeployment[];
  checkRuns: FakeCheckRun[];
  commitComments: FakeCommitComment[];
  pulls: FakePull[];
  statuses: FakeStatus[];
  comments: FakeComment[];
  issues: FakeIssue[];
  /** Labels per repository `owner/name`. */
  labels: Map<string, { id: number; name: string; color: string; description: string | null }[]>;
  /** Collaborator permissions per `owner/name:username` (absent: not a collaborator, `read` on public repos). */
  permissions: Map<string, Permission>;
  /** Installation tokens issued: token → installation id. */
  tokens: Map<string, number>;
  /** Ids are unique across fakes (as GitHub ids are global), so tests sharing a database never collide. */
  nextId: number;
}

export function emptyState(): FakeState {
  return {
    deployments: [],
    checkRuns: [],
    commitComments: [],
    pulls: [],
    statuses: [],
    comments: [],
    issues: [],
    labels: new Map(),
    permissions: new Map(),
    tokens: new Map(),
    nextId: randomInt(1, 1_000_000) * 1000,
  };
}

/** The next issue / PR number of a repository (PRs and issues share numbers, as on GitHub). */
export function nextIssueNumber(state: FakeState, repo: string): number {
  return Math.max(0, ...state.issues.filter((i) => i.repo === repo).map((i) => i.number)) + 1;
}

-- Up Migration
-- Apply from a pull request (docs/language.md, "Apply from a pull request"; docs/controller.md):
-- * applied_policies.apply_from_pull_request: the environment's `apply_from_pull_request` as described at the commit
--   last applied, which decides whether `/politburo apply ENV` on an open pull request may apply it. NULL: recorded
--   before this column existed (the controller then reads that commit).
-- * pr_plans.plan_hash: a hash of the plan the pull request's comment shows for the environment at (base, head), so an
--   apply from the pull request applies only the plan the commenter saw. NULL: planned before this column existed.
ALTER TABLE applied_policies ADD COLUMN apply_from_pull_request boolean;
ALTER TABLE pr_plans ADD COLUMN plan_hash text;

-- Down Migration
ALTER TABLE pr_plans DROP COLUMN plan_hash;
ALTER TABLE applied_policies DROP COLUMN apply_from_pull_request;

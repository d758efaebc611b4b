-- Up Migration
-- The hash of the sticky comment's body as last sent: an unchanged plan (a re-plan of the same head, a comment
-- command) costs no GitHub write.
ALTER TABLE pr_comments ADD COLUMN body_sha256 text;

-- Down Migration
ALTER TABLE pr_comments DROP COLUMN body_sha256;

-- Up Migration
-- Live updates of the dashboard (docs/controller.md, "Live updates"). Every change to runs, node runs, task results and
-- recorded nodes is announced on the channel politburo_changes, whichever process made it (a controller replica, a CLI
-- apply), in the same transaction. Payloads carry ids only, never names or output (pg_notify refuses payloads of 8000
-- bytes or more): {"k": kind, "run": id, "env": environment id, "path": node path}; a path too long to fit is left out.
-- node_runs.current_task is the task a node is working on (written by the engine while a task runs); it is cleared
-- when the task's outcome or the node's final state is recorded.
ALTER TABLE node_runs ADD COLUMN current_task text;

CREATE FUNCTION politburo_notify_change(kind text, run_id bigint, environment_id bigint, node_path text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  payload text := json_strip_nulls(json_build_object('k', kind, 'run', run_id::text, 'env', environment_id::text,
                                                     'path', node_path))::text;
BEGIN
  IF octet_length(payload) > 7900 THEN
    payload := json_strip_nulls(json_build_object('k', kind, 'run', run_id::text, 'env', environment_id::text))::text;
  END IF;
  PERFORM pg_notify('politburo_changes', payload);
END $$;

CREATE FUNCTION politburo_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM politburo_notify_change('run', NEW.id, NEW.environment_id, NULL);
  RETURN NULL;
END $$;

-- A run's lease heartbeat (heartbeat_at) is not a change anyone sees: only inserts and status / summary changes count.
CREATE TRIGGER runs_live_insert AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION politburo_runs_changed();
CREATE TRIGGER runs_live_update AFTER UPDATE OF status, finished_at, summary ON runs
  FOR EACH ROW EXECUTE FUNCTION politburo_runs_changed();

CREATE FUNCTION politburo_node_runs_current_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.finished_at IS NOT NULL THEN
    NEW.current_task := NULL;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER node_runs_current_task BEFORE INSERT OR UPDATE ON node_runs
  FOR EACH ROW EXECUTE FUNCTION politburo_node_runs_current_task();

CREATE FUNCTION politburo_node_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM politburo_notify_change('node', NEW.run_id, NULL, NEW.path);
  RETURN NULL;
END $$;

CREATE TRIGGER node_runs_live AFTER INSERT OR UPDATE ON node_runs
  FOR EACH ROW EXECUTE FUNCTION politburo_node_runs_changed();

CREATE FUNCTION politburo_task_results_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE node_runs SET current_task = NULL
   WHERE run_id = NEW.run_id AND path = NEW.node_path AND current_task = NEW.task;
  PERFORM politburo_notify_change('task', NEW.run_id, NULL, NEW.node_path);
  RETURN NULL;
END $$;

CREATE TRIGGER task_results_live AFTER INSERT ON task_results
  FOR EACH ROW EXECUTE FUNCTION politburo_task_results_changed();

-- Recorded nodes change in bulk (ten thousand in one statement): one notification per statement and environment.
CREATE FUNCTION politburo_nodes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  env bigint;
BEGIN
  FOR env IN SELECT DISTINCT environment_id FROM changed LOOP
    PERFORM politburo_notify_change('nodes', NULL, env, NULL);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER nodes_live_insert AFTER INSERT ON nodes REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION politburo_nodes_changed();
CREATE TRIGGER nodes_live_update AFTER UPDATE ON nodes REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION politburo_nodes_changed();
CREATE TRIGGER nodes_live_delete AFTER DELETE ON nodes REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION politburo_nodes_changed();

-- Down Migration
DROP TRIGGER nodes_live_delete ON nodes;
DROP TRIGGER nodes_live_update ON nodes;
DROP TRIGGER nodes_live_insert ON nodes;
DROP FUNCTION politburo_nodes_changed();
DROP TRIGGER task_results_live ON task_results;
DROP FUNCTION politburo_task_results_changed();
DROP TRIGGER node_runs_live ON node_runs;
DROP FUNCTION politburo_node_runs_changed();
DROP TRIGGER node_runs_current_task ON node_runs;
DROP FUNCTION politburo_node_runs_current_task();
DROP TRIGGER runs_live_update ON runs;
DROP TRIGGER runs_live_insert ON runs;
DROP FUNCTION politburo_runs_changed();
DROP FUNCTION politburo_notify_change(text, bigint, bigint, text);
ALTER TABLE node_runs DROP COLUMN current_task;

-- Up Migration
-- Live updates of the dashboard (docs/controller.md, "Live updates").
-- A run's start and end (and its summary) are announced on the channel politburo_changes, whichever process made them
-- (a controller replica, a CLI apply), as {"k": "run", "run": id, "env": environment id}: ids only, never names.
-- Node runs, task results and recorded nodes are not announced: NOTIFY serialises the commits of every transaction that
-- uses it, and those are written thousands of times per run. The dashboard reads them while a run it shows is running:
-- node_runs.changed_at (set on every write) says which changed, task_results.id which are new.
-- node_runs.current_task is the task a node is working on (written by the engine while a task runs); it is cleared
-- when the task's outcome or the node's final state is recorded.
ALTER TABLE node_runs ADD COLUMN current_task text, ADD COLUMN changed_at timestamptz;

CREATE FUNCTION politburo_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('politburo_changes',
                    json_build_object('k', 'run', 'run', NEW.id::text, 'env', NEW.environment_id::text)::text);
  RETURN NULL;
END $$;

-- A run's lease heartbeat (heartbeat_at) is not a change anyone sees: only inserts and status / summary changes count.
CREATE TRIGGER runs_live_insert AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION politburo_runs_changed();
CREATE TRIGGER runs_live_update AFTER UPDATE OF status, finished_at, summary ON runs
  FOR EACH ROW EXECUTE FUNCTION politburo_runs_changed();

CREATE FUNCTION politburo_node_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_at := clock_timestamp();
  IF NEW.finished_at IS NOT NULL THEN
    NEW.current_task := NULL;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER node_runs_changed BEFORE INSERT OR UPDATE ON node_runs
  FOR EACH ROW EXECUTE FUNCTION politburo_node_runs_changed();

CREATE FUNCTION politburo_task_results_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE node_runs SET current_task = NULL
   WHERE run_id = NEW.run_id AND path = NEW.node_path AND current_task = NEW.task;
  RETURN NULL;
END $$;

CREATE TRIGGER task_results_recorded AFTER INSERT ON task_results
  FOR EACH ROW EXECUTE FUNCTION politburo_task_results_recorded();

-- Down Migration
DROP TRIGGER task_results_recorded ON task_results;
DROP FUNCTION politburo_task_results_recorded();
DROP TRIGGER node_runs_changed ON node_runs;
DROP FUNCTION politburo_node_runs_changed();
DROP TRIGGER runs_live_update ON runs;
DROP TRIGGER runs_live_insert ON runs;
DROP FUNCTION politburo_runs_changed();
ALTER TABLE node_runs DROP COLUMN changed_at, DROP COLUMN current_task;

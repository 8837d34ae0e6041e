-- Listing the operations of a managed instance (GET …/managedInstances/{mi}/operations): the
-- instance key of an operation, lower-cased like the other *_key columns, and an index on it.
-- New rows get the engine's folding (Unicode lower case); rows written before this migration are
-- folded by lower().
ALTER TABLE operations ADD COLUMN subscription_key TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN resource_group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN instance_key TEXT NOT NULL DEFAULT '';

UPDATE operations SET
    subscription_key = lower(subscription),
    resource_group_key = lower(resource_group),
    instance_key = lower(instance_name);

CREATE INDEX operations_by_instance
    ON operations (subscription_key, resource_group_key, instance_key, started_at, seq);

-- The emulated target's journal when nodes share it (lrs serve --target-journal store): one
-- JSON line per committed target change, numbered without gaps. Appending a number another
-- node took first fails on the key, and that node's change is applied before trying again.
CREATE TABLE target_log (
    seq   BIGINT PRIMARY KEY,
    line  TEXT NOT NULL
);

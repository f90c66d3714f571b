-- Provisioned concurrency configurations: one per published version or alias of a function.
-- Only the request is stored (how many environments, when it was last set); the status and
-- the allocated environments are the running server's and are rebuilt from here at start.
CREATE TABLE provisioned_concurrency (
    function_name    TEXT NOT NULL,
    qualifier        TEXT NOT NULL,
    requested        INTEGER NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    PRIMARY KEY (function_name, qualifier)
) WITHOUT ROWID;

-- Asynchronous invocation settings per function and qualifier ($LATEST, a version, an alias):
-- MaximumRetryAttempts, MaximumEventAgeInSeconds, DestinationConfig, as a JSON document.
CREATE TABLE event_invoke_configs (
    function_name TEXT NOT NULL,
    qualifier     TEXT NOT NULL,
    config        TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
) WITHOUT ROWID;

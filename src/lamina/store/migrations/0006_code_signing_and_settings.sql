-- Code signing configurations, keyed by their id (csc- and 17 hex digits): the allowed signing
-- profiles, the policy and the description, as a JSON document.
CREATE TABLE code_signing_configs (
    id     TEXT PRIMARY KEY,
    config TEXT NOT NULL
) WITHOUT ROWID;

-- Which code signing configuration a function uses (at most one per function).
CREATE TABLE function_code_signing (
    function_name TEXT PRIMARY KEY,
    config_id     TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX function_code_signing_by_config ON function_code_signing (config_id, function_name);

-- Small settings of a function or one of its versions, one JSON document per kind:
-- 'runtime_management' (per qualifier) and 'recursion' (qualifier '').
CREATE TABLE function_settings (
    function_name TEXT NOT NULL,
    qualifier     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    config        TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier, kind)
) WITHOUT ROWID;

-- Functions, one row each, keyed by name. The configuration is a JSON document
-- (model.FunctionConfig.to_record) so that new fields need no schema change.
CREATE TABLE functions (
    name        TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    code_sha256 TEXT NOT NULL,
    code_size   INTEGER NOT NULL,
    revision_id TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX functions_by_code ON functions (code_sha256);

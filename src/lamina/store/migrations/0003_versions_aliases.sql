-- Published versions: immutable copies of a function's configuration, numbered from 1.
CREATE TABLE function_versions (
    function_name TEXT NOT NULL,
    version       INTEGER NOT NULL,
    config        TEXT NOT NULL,
    code_sha256   TEXT NOT NULL,
    PRIMARY KEY (function_name, version)
) WITHOUT ROWID;

CREATE INDEX function_versions_by_code ON function_versions (code_sha256);

-- Aliases: a name pointing at a version, optionally splitting traffic with a second one.
CREATE TABLE aliases (
    function_name TEXT NOT NULL,
    name          TEXT NOT NULL,
    alias         TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
) WITHOUT ROWID;

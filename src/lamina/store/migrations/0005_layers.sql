-- Layers: the highest version number each layer name ever had (numbers are never reused,
-- even after every version is deleted), and the published versions themselves.
CREATE TABLE layers (
    name         TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE layer_versions (
    layer_name  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    record      TEXT NOT NULL,
    code_sha256 TEXT NOT NULL,
    policy      TEXT,
    PRIMARY KEY (layer_name, version)
) WITHOUT ROWID;

CREATE INDEX layer_versions_code ON layer_versions (code_sha256);

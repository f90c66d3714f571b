-- Function URLs: at most one per function ('' qualifier) and per alias, found by their url_id
-- (the first label of the URL's host name) when a request is served. The configuration
-- (auth type, CORS, invoke mode, times) is a JSON document (model.FunctionUrlConfig.to_record).
CREATE TABLE function_urls (
    url_id        TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    qualifier     TEXT NOT NULL,
    config        TEXT NOT NULL,
    UNIQUE (function_name, qualifier)
) WITHOUT ROWID;

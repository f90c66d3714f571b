-- Resource-based policies, per function and qualifier ('' for the unqualified function):
-- the policy's statements, in the order they were added, as a JSON array.
CREATE TABLE policies (
    function_name TEXT NOT NULL,
    qualifier     TEXT NOT NULL,
    statements    TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
) WITHOUT ROWID;

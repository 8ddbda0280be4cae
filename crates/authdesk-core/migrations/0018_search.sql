-- Schema 18: finding an account connector by a part of its name among a million: a trigram
-- index (FTS5, external content) of the names, kept by triggers. A search of three or more
-- characters without LIKE's own wildcards reads it instead of every row.
CREATE VIRTUAL TABLE account_connector_names USING fts5(
    name, content='account_connectors', content_rowid='id', tokenize='trigram'
);
INSERT INTO account_connector_names(account_connector_names) VALUES ('rebuild');
CREATE TRIGGER account_connector_names_insert AFTER INSERT ON account_connectors BEGIN
    INSERT INTO account_connector_names(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER account_connector_names_delete AFTER DELETE ON account_connectors BEGIN
    INSERT INTO account_connector_names(account_connector_names, rowid, name)
        VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER account_connector_names_update AFTER UPDATE OF name ON account_connectors BEGIN
    INSERT INTO account_connector_names(account_connector_names, rowid, name)
        VALUES ('delete', old.id, old.name);
    INSERT INTO account_connector_names(rowid, name) VALUES (new.id, new.name);
END;

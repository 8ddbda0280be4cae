-- Version 12 (SQLite's schema 18): finding an account connector by a part of its name among
-- a million: a trigram index (pg_trgm) that serves the search's ILIKE. pg_trgm is a trusted
-- extension (PostgreSQL 13+: the database's owner may create it); where it cannot be created
-- the search still works, reading every row, and the server says nothing is wrong.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): account connector search reads every row', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS account_connectors_name_trgm
            ON account_connectors USING gin (name gin_trgm_ops);
    END IF;
END
$$;

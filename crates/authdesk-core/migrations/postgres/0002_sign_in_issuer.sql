-- Version 2 (SQLite's schema 8): which API client asked for a sign-in token, so revoking
-- the client ends the sign-in tokens it handed out.
ALTER TABLE sign_in_tokens ADD COLUMN issued_by TEXT;

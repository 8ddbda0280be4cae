-- Schema 8: which API client asked for a sign-in token, so revoking the client ends the
-- sign-in tokens it handed out (NULL: the owner's static key, the CLI or the window).
ALTER TABLE sign_in_tokens ADD COLUMN issued_by TEXT;

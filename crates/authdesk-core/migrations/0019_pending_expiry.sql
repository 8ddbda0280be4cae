-- Schema 19: each sign-in started deletes the pending sign-ins that expired; an index on
-- their expiry makes that a read of the expired ones, not of every pending sign-in (at
-- thousands of sign-ins a second, the scan was most of the time of starting one).
CREATE INDEX pending_authorizations_by_expiry ON pending_authorizations(expires_at);

-- Schema 9: a sign-in is bound to the place that started it (RFC 9700 §4.7): the hash of a
-- random value the starter keeps (the browser flow in a cookie, the desktop window and the
-- loopback listener in memory). A callback that cannot present it writes nothing. Pending
-- authorizations made before this schema have none and are refused (they live 10 minutes).
ALTER TABLE pending_authorizations ADD COLUMN binding_hash TEXT;

"""Operations: what an operator reads and what keeps a running deployment healthy.
``audit`` is the audit trail of logins, failures, logouts and refusals in the shared schema;
``housekeeping`` removes expired sessions, old audit events and lockout rows; ``request_id`` puts
nginx's request id on every log line; ``unavailable`` answers 503, never 500, while a database
cannot be reached.
"""

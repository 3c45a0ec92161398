"""A server-side prepared statement for the one query every request behind the access gate runs.

The session row, read together with this service's access decision (sso_shared.sessions.store and
sso_shared.access.service_access.service_access_sql), is a query with two EXISTS subqueries: PostgreSQL spent
longer planning it (about 0.15 ms) than running it (0.03 ms), on every request. Prepared once per
database connection with PREPARE and run with EXECUTE, it is planned once per connection instead:
its round trip costs what Django's plain session lookup costs (docs/performance.md).
https://www.postgresql.org/docs/15/sql-prepare.html

A prepared statement belongs to one server connection and lives until that connection ends, whatever
happens to transactions: each new connection Django opens starts with none (``connection_created``).
A pooler in transaction mode between Django and PostgreSQL (none in this deployment) would break
this, as it breaks any session state.
"""

import functools
import hashlib
import re

from django.db.backends.signals import connection_created
from django.dispatch import receiver

# The names prepared on a Django connection's current server connection.
PREPARED = "sso_prepared_statements"
PLACEHOLDER = re.compile(r"%s")


@receiver(connection_created, dispatch_uid="sso_shared.sessions.prepared_statements.forget")
def forget_prepared_statements(sender, connection, **kwargs):
    """A new server connection has no prepared statements."""
    setattr(connection, PREPARED, set())


@functools.cache  # asked on every request, for the same few texts
def statement_name(prefix: str, sql: str) -> str:
    """The name, unique for the text: a different text is never run under a name prepared for another."""
    return f"{prefix}_{hashlib.sha256(sql.encode()).hexdigest()[:12]}"


def execute_prepared(connection, cursor, prefix: str, sql: str, params: list) -> None:
    """Run ``sql`` (with %s placeholders) with ``params`` as a prepared statement on ``cursor``."""
    name = statement_name(prefix, sql)
    prepared = getattr(connection, PREPARED, None)
    if prepared is None:
        # Opened before this module was imported: nothing of ours has been prepared on it.
        prepared = set()
        setattr(connection, PREPARED, prepared)
    if name not in prepared:
        numbered = iter(range(1, len(params) + 1))
        # The text is ours (names from model metadata, quoted); the values stay parameters ($1, $2...).
        cursor.execute(f"PREPARE {name} AS " + PLACEHOLDER.sub(lambda _: f"${next(numbered)}", sql))
        prepared.add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)

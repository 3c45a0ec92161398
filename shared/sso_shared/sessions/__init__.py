"""Sessions: the one login session every service reads, and the pages that show and end it.
The session engine (``store``, ``SESSION_ENGINE = "sso_shared.sessions.store"``) keeps Django's
database sessions in the shared schema with the user's id in a column of its own, so a user's
sessions are found, listed and ended everywhere at once; it reads the session row, the user and the
service's access in one statement (``user_row``, ``prepared_statements``). ``your_sessions`` is the
"Your sessions" page, ``admin_actions`` ends a user's sessions from either admin, and ``browsers``
names the browser a session came from.
"""

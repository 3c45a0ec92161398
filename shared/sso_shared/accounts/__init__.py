"""Accounts: the shared user's own pages and its admin, on every service.
The login and logout views and the account pages A serves (``views``, ``urls``), what a user must do
before anything else (``requirements``: change a temporary password, set up a second factor),
recovery of a forgotten password (``recovery``, ``admin_recovery``), the user and group admin both
services show (``admin``), deleting a user as an anonymised tombstone (``tombstones``), and the
header every page shows (``context_processors``). The user model itself is ``sso_shared.models``.
"""

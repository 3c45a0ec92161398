"""Adoption of existing Django projects: their users, groups and logged-in sessions move to the shared login.
``manage.py sso_adopt`` (``./stack adopt a|b``) reads a legacy project's database
(``legacy``), plans who becomes which user (``plan``), carries its unexpired
sessions over (``carried_sessions``), prints what it would do (``report``) and
writes it in one transaction (``apply``); ``--rewrite`` turns old primary keys in
a service's own table into user UUIDs (``rewrite``). The middleware in
``middleware`` logs a browser that still holds the legacy cookie in, once.
docs/adopting.md
"""

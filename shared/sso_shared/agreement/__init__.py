"""Agreement between services: what every service sharing the login must hold identically.
Each service computes a fingerprint of the settings that must match (``fingerprint``), records it in
the shared schema when it starts (``records``, ``startup``), and compares it with the services
running now (``presence``: told by PostgreSQL's advisory locks); ``compare`` says what breaks when
two disagree, ``checks`` turns that into Django system checks, and ``upgrades`` decides whether the
shared tables may be migrated while other services run.
"""

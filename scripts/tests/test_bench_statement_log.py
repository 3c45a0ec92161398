"""./stack bench counts a request's SQL round trips from PostgreSQL's statement log: its parser,
on lines as PostgreSQL writes them with the bench's log_line_prefix ('%m [%p] %u@%d ')."""

import importlib.util

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_run", ROOT / "scripts" / "bench" / "run.py")
bench_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_run)

LOG = """\
2026-11-29 18:05:43.101 UTC [4101] system_b@sso_auth LOG:  statement: SELECT 1
2026-11-29 18:05:43.102 UTC [4101] system_b@sso_auth LOG:  statement: SELECT "sso_session"."session_key"
\tFROM "sso_session" WHERE a statement on two lines counts once
2026-11-29 18:05:43.103 UTC [4102] system_b@system_b LOG:  statement: SELECT "review_review"."id"
2026-11-29 18:05:43.104 UTC [4200] system_b@sso_auth LOG:  statement: SELECT 1
2026-11-29 18:05:43.105 UTC [4300] postgres@postgres LOG:  statement: ALTER SYSTEM RESET log_statement
2026-11-29 18:05:43.106 UTC [4400] bench_control@bench_control LOG:  statement: SELECT 1
2026-11-29 18:05:43.107 UTC [4101] system_b@sso_auth LOG:  duration: 0.1 ms
"""


def test_each_statement_of_the_sites_roles_counts_once_per_database_but_the_presence_connections(tmp_path):
    log = tmp_path / "postgres.log"
    log.write_text("earlier lines are skipped\n" + LOG)
    offset = len("earlier lines are skipped\n")
    found = bench_run.statements_since(log, offset, ["system_a", "system_b"], ignored_pids={"4200"})
    assert [database for database, _ in found] == ["sso_auth", "sso_auth", "system_b"]
    assert found[0][1] == "SELECT 1"
    control = bench_run.statements_since(log, offset, ["bench_control"], ignored_pids=set())
    assert control == [("bench_control", "SELECT 1")]

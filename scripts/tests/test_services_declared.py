"""./stack reads the services from services.toml, the same file the services read."""

from pathlib import Path

from .conftest import ROOT, run_stack, stack_environment

THIRD = """
[services.wiki]
title = "The wiki"
project = "wiki_site"
settings = "wiki_site.settings"
requirements = "wiki_site/requirements.txt"
"""


def test_stack_knows_the_declared_services(tmp_path, state):
    env = stack_environment(tmp_path, state)
    refused = run_stack("manage", "wiki", "check", env=env)
    assert refused.returncode != 0
    assert "SERVICE one of a b (for example" in refused.stderr


def test_compose_refuses_a_service_whose_project_its_image_does_not_hold_before_anything_starts(tmp_path, state):
    declaration = tmp_path / "services.toml"
    declaration.write_text((ROOT / "services.toml").read_text() + THIRD)
    env = stack_environment(tmp_path, state, SSO_SERVICES_FILE=str(declaration))
    refused = run_stack("up", "--compose", env=env)
    assert refused.returncode != 0
    assert "the app image holds the projects system_a and system_b only, not wiki's (wiki_site)" in refused.stderr
    assert "Nothing was started." in refused.stderr
    assert not (state / "pg").exists()


def test_a_project_added_with_add_service_runs_natively_and_compose_says_so(tmp_path, state):
    declaration = tmp_path / "services.toml"
    declaration.write_text((ROOT / "services.toml").read_text() + THIRD + "layer = true\n")
    env = stack_environment(tmp_path, state, SSO_SERVICES_FILE=str(declaration))
    refused = run_stack("up", "--swarm", env=env)
    assert refused.returncode != 0
    assert "wiki was added with ./stack add-service: such a project runs with the native stack only" in refused.stderr
    chosen = run_stack("up", env=env)
    assert "mode: native (services.toml declares wiki, added with ./stack add-service" in chosen.stderr
    # (It has no project here: its requirements are missing, and that is said before anything starts.)
    missing = f"no requirements file {ROOT}/wiki_site/requirements.txt, which {declaration} names for wiki."
    assert missing in chosen.stderr
    assert not (state / "pg").exists()


def test_a_broken_declaration_is_one_line_for_every_command(tmp_path, state):
    declaration: Path = tmp_path / "services.toml"
    declaration.write_text("[services.a]\ntitle = 'x'\n")
    env = stack_environment(tmp_path, state, SSO_SERVICES_FILE=str(declaration))
    for command in (["status"], ["up", "--native"], ["manage", "a", "check"]):
        refused = run_stack(*command, env=env)
        assert refused.returncode == 1
        assert refused.stderr == (
            f"error: {declaration}, [services.a]: project, requirements, settings missing "
            "(fields: project, requirements, settings, title, access (optional), layer (optional))\n"
        )

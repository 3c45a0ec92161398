"""How the project's own settings and the shared ones are put together (sso_shared.added_services.settings).

The shared settings win, as they must be the same in every service (sso_shared.agreement), except where
the project keeps its own: what its models' migrations were made with, and how it shows dates and text.
Its apps, middleware and templates are merged with the shared ones, in an order that works for both.
"""

# Settings a project keeps from its own settings when it sets them.
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-auto-field (its migrations were made with it)
PROJECT_KEEPS = ("DEFAULT_AUTO_FIELD", "LANGUAGE_CODE", "TIME_ZONE", "LANGUAGES", "LOCALE_PATHS")


class ProjectRefused(Exception):
    """The project cannot run under the one login as it is: the message says why and what to do."""


def own_user_model_refusal(user_model: str | None) -> str | None:
    """Why a project with its own AUTH_USER_MODEL cannot join, or None when it uses Django's."""
    if user_model in (None, "auth.User"):
        return None
    return (
        f"the project sets AUTH_USER_MODEL = {user_model!r}: a user model of its own cannot become the one "
        "every service shares (sso_shared.User, with its UUID keys and its table in the shared schema). Move "
        "that model's own fields into a profile model with a OneToOneField to settings.AUTH_USER_MODEL, point "
        "its foreign keys at settings.AUTH_USER_MODEL, remove AUTH_USER_MODEL from its settings, and add it "
        'again; ./stack adopt then brings its users in (docs/adding-a-service.md, "A user model of its own").'
    )


def merged_apps(shared: list[str], project: list[str]) -> list[str]:
    """The shared apps first (their templates and commands win), then the project's own, once each."""
    return [*shared, *(app for app in project if app not in shared)]


def merged_middleware(shared: list[str], project: list[str]) -> list[str]:
    """The shared middleware, in its order, then the project's own additions in theirs: they run once
    the session, the user and the access check are there (Wagtail's redirects, say)."""
    return [*shared, *(entry for entry in project if entry not in shared)]


def merged_templates(project: list[dict], shared_context_processors: list[str]) -> list[dict]:
    """The project's template engines, the Django one also finding the apps' templates (the shared
    package's: the 403 page, the admin's header) and given the shared context processors."""
    merged = []
    for engine in project:
        engine = {**engine, "OPTIONS": dict(engine.get("OPTIONS", {}))}
        if engine["BACKEND"] == "django.template.backends.django.DjangoTemplates":
            processors = list(engine["OPTIONS"].get("context_processors", []))
            engine["OPTIONS"]["context_processors"] = [
                *processors,
                *(processor for processor in shared_context_processors if processor not in processors),
            ]
            if "loaders" not in engine["OPTIONS"]:
                engine["APP_DIRS"] = True
        merged.append(engine)
    return merged

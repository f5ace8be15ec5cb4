from typing import Any

from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "shien.applications"
    label = "applications"
    verbose_name = "申請"

    def ready(self) -> None:
        from shien.accounts import sections

        sections.register(organization_applications)


def organization_applications(user: Any, organization: Any) -> dict[str, Any]:
    """The organization page's applications: those of the business this user may see."""
    from shien.applications.selectors import applications_for

    mine = applications_for(user).filter(organization=organization).order_by("-updated_at")[:50]
    return {"applications": list(mine)}

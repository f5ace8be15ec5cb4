"""What other domains add to the organization page. `accounts` sits below the domains that build on a
business (applications now; the catalog's joint applications and the community later), so it imports
none of them: each registers, in its AppConfig.ready, a function that gives the page's context its
own entries for a user and a business (reached through that domain's own permission-checked
selectors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shien.accounts.models import Organization, User

Section = Callable[[User, Organization], dict[str, Any]]
_sections: list[Section] = []


def register(section: Section) -> Section:
    if section not in _sections:  # ready() may run more than once (tests)
        _sections.append(section)
    return section


def context_for(user: User, organization: Organization) -> dict[str, Any]:
    """The entries every registered domain adds for this user and business."""
    out: dict[str, Any] = {}
    for section in _sections:
        out.update(section(user, organization))
    return out

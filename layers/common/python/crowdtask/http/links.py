"""HAL `_links` of each resource: itself and the actions its current state allows."""

from __future__ import annotations

from typing import Any


def _action(href: str, method: str = "POST") -> dict[str, str]:
    return {"href": href, "method": method}


def task_links(task: Any) -> dict[str, Any]:
    base = f"/tasks/{task.id}"
    links: dict[str, Any] = {"self": {"href": base}, "copy": _action(f"{base}/copy")}
    if task.archived:
        links["unarchive"] = _action(f"{base}/unarchive")
    else:
        links["archive"] = _action(f"{base}/archive")
        if not task.readOnly:
            links["update"] = _action(base, "PUT")
    return links


def profile_links() -> dict[str, Any]:
    return {"self": {"href": "/me"}, "update": _action("/me", "PUT")}

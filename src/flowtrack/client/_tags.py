"""Metaflow's rules for changing a run's user tags (``Run.replace_tags`` and friends).

A run has user tags (given with ``--tag`` or added later) and system tags (``user:…``,
``python_version:…``, ``origin_run_id:…``, and ``project:…`` / ``project_branch:…``
for a flow with ``@project``) that cannot be changed. A change removes
tags first, then adds; a system tag given to add is ignored, removing one is an error,
removing a tag the run lacks is nothing. Each tag is a non-empty string of at most
``MAX_TAG_LENGTH`` characters, and a change may not grow the user tags beyond
``MAX_USER_TAGS`` (one that keeps or shrinks a larger set is allowed, so it can be
mended). Violations raise ``TaggingError`` and change nothing.
"""

from __future__ import annotations

from typing import Any

from .._errors import MetaflowStyleError

MAX_USER_TAGS = 50
MAX_TAG_LENGTH = 500
# a run context's custom properties naming its @project and branch (its system tags)
PROJECT_PROPERTY = "project"
PROJECT_BRANCH_PROPERTY = "project_branch"


def system_tags(properties: dict[str, Any], custom: dict[str, Any]) -> frozenset[str]:
    """The system tags of a run from its context's properties."""
    tags = {f"user:{properties.get('user')}",
            f"python_version:{properties.get('python_version')}"}
    if properties.get("origin_run_id"):
        tags.add(f"origin_run_id:{properties['origin_run_id']}")
    if custom.get(PROJECT_PROPERTY):
        tags.add(f"project:{custom[PROJECT_PROPERTY]}")
        tags.add(f"project_branch:{custom[PROJECT_BRANCH_PROPERTY]}")
    return frozenset(tags)


class TaggingError(MetaflowStyleError):
    """A tag change that breaks a rule: Metaflow's ``MetaflowTaggingError``, with its
    constructor (``msg``, ``lineno``, ``source_file``)."""

    headline = "Tagging error"


def _checked(tag: Any) -> str:
    if isinstance(tag, bytes):
        try:
            tag = tag.decode("utf-8")
        except UnicodeDecodeError:
            raise TaggingError("Tags must be UTF-8 decodable") from None
    if not isinstance(tag, str):
        raise TaggingError(f"Tags must be some kind of string, got {type(tag).__name__}")
    if not tag:
        raise TaggingError("Tags must not be empty string")
    if len(tag) > MAX_TAG_LENGTH:
        raise TaggingError(f"Tag is too long {len(tag)} > {MAX_TAG_LENGTH}")
    return tag


def one_or_many(tag: Any) -> Any:
    """``add_tag``/``remove_tag``/``replace_tag`` take one tag or an iterable of them."""
    return [tag] if isinstance(tag, (str, bytes)) else tag


def check_change(to_remove: Any, to_add: Any) -> tuple[list[str], list[str]]:
    """Both sides of a change, checked (in Metaflow's order) before anything is read or
    written: at least one tag, no bare string, iterables of valid tags."""
    remove = [] if to_remove is None else to_remove
    add = [] if to_add is None else to_add
    if not _truthy(add) and not _truthy(remove):
        raise TaggingError("Must add or remove at least one tag")
    for side, what in ((add, "tags_to_add"), (remove, "tags_to_remove")):
        if isinstance(side, (str, bytes)):
            raise TaggingError(f"{what} may not be a string")
    lists = []
    for side, what in ((add, "tags_to_add"), (remove, "tags_to_remove")):
        try:
            lists.append(list(side))
        except TypeError:
            raise TaggingError(f"{what} must be iterable") from None
    add_list, remove_list = ([_checked(tag) for tag in tags] for tags in lists)
    return remove_list, add_list


def _truthy(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:  # an object that cannot say: let the iterable check judge it
        return True


def next_user_tags(user: frozenset[str], system: frozenset[str], remove: list[str],
                   add: list[str]) -> frozenset[str]:
    """The user tags after removing ``remove`` and then adding ``add``."""
    forbidden = set(remove) & system
    if forbidden:
        raise TaggingError("Cannot remove a tag that is an existing system tag "
                           f"({sorted(forbidden)})")
    result = (user - set(remove)) | (set(add) - system)
    if len(result) > MAX_USER_TAGS and len(result) > len(user):
        raise TaggingError(f"Cannot increase size of tag set beyond {MAX_USER_TAGS}")
    return frozenset(result)

"""Schema objects that only PostgreSQL gets, which the models do not declare.

The models describe what both databases hold; a migration may add what only
PostgreSQL can use, such as the trigram indexes of revision 0050. Alembic's
comparison of models and database (``alembic check``, autogenerate) leaves
these out through :func:`include_name`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Literal, TypeAlias

logger = logging.getLogger(__name__)

#: GIN ``pg_trgm`` indexes of revision 0050, by name: the lower-cased column each
#: covers on ``scim_resources``.
TRIGRAM_INDEXES: Mapping[str, str] = {
    "ix_scim_resources_user_name_trgm": "user_name",
    "ix_scim_resources_display_name_trgm": "display_name",
}


#: The kinds of schema object Alembic asks :func:`include_name` about.
NameKind: TypeAlias = Literal[
    "schema",
    "table",
    "column",
    "index",
    "unique_constraint",
    "foreign_key_constraint",
    "check_constraint",
]
ParentNames: TypeAlias = MutableMapping[
    Literal["schema_name", "table_name", "schema_qualified_table_name"], str | None
]


def include_name(name: str | None, type_: NameKind, _parent_names: ParentNames) -> bool:
    """Alembic's name filter: compare everything but PostgreSQL-only objects."""
    return not (type_ == "index" and name in TRIGRAM_INDEXES)

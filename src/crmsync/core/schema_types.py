"""The building blocks of the store's tables (docs/schema.md): the metadata and its naming
convention, the JSON and surrogate-key types, and the text sizes. :mod:`crmsync.core.schema`
re-exports what plugins use.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    MetaData,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["NAMING", "metadata", "Json", "Id", "ID", "NAME", "CODE"]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

#: JSON on SQLite, JSONB on PostgreSQL.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
#: A surrogate key: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

ID = 255  # remote ids and references
NAME = 255
CODE = 64

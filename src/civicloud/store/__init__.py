"""The store: the only package that imports SQLAlchemy. Tables, repositories, unit of work, migrations."""

from sqlalchemy import Engine

from civicloud.store.engine import make_engine
from civicloud.store.migrate import is_up_to_date, upgrade
from civicloud.store.transaction import (
           SharedTransaction,
           after_commit,
           current_transaction,
           outside_transaction,
)
from civicloud.store.uow import SqlUnitOfWork, UnitOfWork

__all__ = ["Engine", "SharedTransaction", "SqlUnitOfWork", "UnitOfWork", "after_commit", "current_transaction",
           "is_up_to_date", "make_engine", "outside_transaction", "upgrade"]

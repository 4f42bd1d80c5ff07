"""Alembic environment for the cdshooks store.

``Store.migrate()`` passes an open connection in ``config.attributes["connection"]`` so the upgrade
runs inside its transaction (and, on PostgreSQL, under its advisory lock). Run from the command
line (``alembic -c cdshooks/store/alembic.ini upgrade head``) it opens its own from the URL.
"""

from __future__ import annotations

from alembic import context

from cdshooks.store.tables import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from cdshooks.store.store import Store

    store = Store(config.get_main_option("sqlalchemy.url") or "")
    try:
        with store.engine.begin() as conn:
            context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        store.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

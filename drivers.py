"""Whether this process loads the PostgreSQL driver: only when its environment or command line names PostgreSQL.

peewee imports psycopg at its own import whenever psycopg is installed. A SQLite deployment would pay for a driver it
never uses: about 0.2 s of every start and 15 MB in every worker. So, imported before peewee (first in `app.py` and
`serving.py`), this module keeps psycopg out unless KAPU_DATABASE_URL or an argument (`move-to-postgres URL`) is a
PostgreSQL URL. A process that already loaded psycopg (the test suite, which serves both databases) keeps it.
"""

from __future__ import annotations

import os
import sys

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DRIVER_MODULES = ("psycopg", "psycopg2", "psycopg2cffi")


def postgres_named(environ, argv) -> bool:
    return environ.get("KAPU_DATABASE_URL", "").startswith(POSTGRES_SCHEMES) or any(
        argument.startswith(POSTGRES_SCHEMES) for argument in argv
    )


def keep_driver_out(environ=os.environ, argv=sys.argv, modules=sys.modules) -> bool:
    """Mark the drivers as absent (peewee then sees none) unless PostgreSQL is named; True when they were kept out."""
    if postgres_named(environ, argv) or "peewee" in modules or any(modules.get(name) for name in DRIVER_MODULES):
        return False
    for name in DRIVER_MODULES:
        modules.setdefault(name, None)  # None in sys.modules: `import psycopg` raises ImportError
    return True


def postgres_available() -> bool:
    return sys.modules.get("psycopg", True) is not None


KEPT_OUT = keep_driver_out()

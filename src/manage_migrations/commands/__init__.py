"""One module per command, each read top-down as load -> plan -> execute -> say: the files from
``loader``, the database's state from ``recorder``, the plan from ``graph``, the steps run by
``executor``, every line printed by ``output``. Each imports what it needs when it needs it:
SQLAlchemy only to reach the database, Alembic only where a migration must run or be compared,
so that ``migrate`` with nothing to do never loads Alembic.
"""

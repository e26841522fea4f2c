# Alembic's config, which manage.py and the plain alembic command both read.

[alembic]
script_location = %(here)s/migrations
# The revision id is the file's name: makemigrations names both as Django does (0001_initial).
file_template = %%(rev)s
prepend_sys_path = .
path_separator = os

# The database comes from {{ project_name }}/settings.py (DATABASE_URL, or .env), not from here.

[post_write_hooks]

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S

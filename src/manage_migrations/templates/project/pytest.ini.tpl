[pytest]
# The project whose test database manage-migrations' pytest plugin builds from the migrations,
# for the fixtures db_session and db_engine (python manage.py test hands it in itself).
manage_migrations_settings = {{ settings_module }}
pythonpath = .
testpaths = tests

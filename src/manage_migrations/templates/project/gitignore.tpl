.env
db.sqlite3
test_db*.sqlite3
__pycache__/

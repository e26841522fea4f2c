.env
db.sqlite3
__pycache__/

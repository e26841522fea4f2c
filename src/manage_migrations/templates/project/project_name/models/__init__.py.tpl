"""The models. Every module of this package is imported before makemigrations compares (the
settings' MODEL_PACKAGES), so a new file here needs no other edit."""

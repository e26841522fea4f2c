"""The sample app's models: a small hotel booking service.

The settings (``MODEL_PACKAGES``) have every module of this package imported, sub-packages
included, so a new file here (say ``bookings.py``) is seen by ``makemigrations`` with no other edit.
"""

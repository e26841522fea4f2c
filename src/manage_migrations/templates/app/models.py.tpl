"""The models of the {{ app_name }} app, as Django's app/models.py.

Once the settings' APPS lists "{{ app_name }}", the tables defined here are this app's: makemigrations
writes their migrations on the app's own branch, labelled {{ app_name }}, and
'python manage.py migrate {{ app_name }}' applies them. A foreign key to another app's table makes
the migration depend on that app's.
"""
{{ imports }}


# Create your models here, as:
#
{{ example }}

# No tables. The module exists so that Django sends this app's post_migrate signal (apps.py).

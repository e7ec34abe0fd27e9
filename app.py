"""``python app.py``: the app of ``qa.serve.app`` (as ``qa serve`` runs it)."""
from qa.serve.app import main

if __name__ == "__main__":
    main()

"""A small sample project: Run File in Pod on app/main.py runs it in the pod, in place."""

"""The model server: one MLflow model over the V2 protocol on KServe's ModelServer.

Nothing is imported here: ``python -m runtime.modelserver`` sets the predict threads
(runtime/modelserver/threads.py) before numpy and the model's libraries load.
"""

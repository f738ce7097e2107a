"""kitaru-gcp in ``kitaru smoke`` runs (``pip install 'kitaru-gcp[smoke]'``): the GCS emulator
and drongo (Secret Manager, Vertex AI) stand in for Google Cloud, and Vertex AI's CustomJobs
run in the smoke run's container engine. :mod:`.starter` is the starter the plugin's
``kitaru_standins`` hook names; :mod:`.services` starts the stand-ins; :mod:`.vertex_jobs` runs
the jobs. Importing this package imports none of them."""

"""Admission: many downloads added in one request, in a bounded number of round trips.

``plan`` is pure (the tasks to make, which lookup finds duplicates cheaper, the newest
duplicate of each URL), ``service`` puts them together for POST /batches
(chalicelib/downloads/batches.py), talking to its ``AdmissionStore`` port; the DynamoDB side
(BatchWriteItem in chunks of 25, BatchGetItem in chunks of 100, one Query per URL or per state
of the owner's tasks) is chalicelib/persistence/admission.py.
"""

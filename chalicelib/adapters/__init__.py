"""Adapters: Haul's side of the outside world, one module per thing it talks to.

``aws.py`` makes the boto3 clients (endpoints from the environment, so the same code talks to
the emulator, LocalStack or AWS); ``s3.py`` is the object store (multipart uploads, presigned
links); ``sqs.py`` is the work queue; ``origin.py`` reads a download's bytes from its origin
server; ``urlguard.py`` (the SSRF guard every user-supplied URL passes) and ``safehttp.py`` (the
HTTP session whose connections are pinned to checked addresses). The DynamoDB adapter is its own
package, ``chalicelib.persistence``.
May import: ``chalicelib.config`` and ``chalicelib.domain`` only; services get these built and
passed in by ``chalicelib.container``.
"""

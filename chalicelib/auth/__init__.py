"""Accounts and security: who a caller is and what they may do (docs/security.md).

One concept per module, and no Chalice import anywhere here (functions/rest/http.py is the only
place a request meets these):

- ``identity``: roles and the :class:`~.identity.Identity` a request acts as;
- ``passwords``: argon2id hashing (OWASP parameters);
- ``tokens``: short-lived access tokens (JWT, HS256 pinned) and the signing key's source;
- ``sessions``: refresh tokens, rotated on every use, a replay revoking the session;
- ``apikeys``: personal API keys, stored only as hashes;
- ``ratelimit``: per-user request limits and the brute-force lock on logins (its counters:
  ``ports.RateCounters``, in DynamoDB chalicelib/persistence/ratelimits.py);
- ``accounts``: the service the API calls (setup, login, users, keys), built on the above;
- ``ports``: what these need from storage (users and the admin roster, sessions, keys, the
  signing key, rate counters) and the values kept; the DynamoDB implementations are in
  chalicelib/persistence/ (``users.py``, ``sessions.py``, ``apikeys.py``, ``signingkey.py``,
  ``ratelimits.py``), built by the composition root.
"""

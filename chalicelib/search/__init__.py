"""Smart search and smart grab (issue #18): a TMDB season, candidate files from the caller's
feed items and Torznab/Newznab indexers, the best file per episode, one batch.

- indexer.py: the Torznab/Newznab search API client (RSS with ``torznab:attr``/``newznab:attr``).
- candidates.py: candidate files as plain values, read with guessit and matched to a title.
- service.py: smart search and smart grab.
"""

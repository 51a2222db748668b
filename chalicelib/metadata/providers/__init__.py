"""Metadata providers (TMDB, MusicBrainz + Cover Art Archive) behind one small interface.

- models.py: what the providers answer, as plain values; the provider settings.
- http.py: every provider request: the SSRF guard on each hop, a timeout, a size cap, the
  shared rate limit (pacing.py) and the response cache (cache.py).
- tmdb.py, musicbrainz.py: the clients.
- persistence.py: the provider settings (keys sealed) and the cache/pacing items in DynamoDB.
- service.py: the settings API and the clients built from the current settings.
"""

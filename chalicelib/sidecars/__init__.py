"""Library sidecars (issue #18): Kodi/Jellyfin NFO files and artwork next to a series' or a
movie's files in the bucket, built from TMDB (docs/library.md)."""

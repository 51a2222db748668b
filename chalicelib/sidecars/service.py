"""What the library's NFO endpoints do: check, create, refresh, read, many at once, missing.

A title (a series or a movie, by TMDB id) is the owner's: its files are the owner's completed
downloads whose metadata names that TMDB id (:class:`~.sources.Library`), so a user reaches only
the folders of their own downloads. Its sidecars go in its folder (:mod:`.layout`):

- ``tvshow.nfo`` or ``movie.nfo``, and for a series ``<episode file>.nfo`` beside each episode;
- ``poster.jpg``, ``fanart.jpg`` and ``clearlogo.png`` from TMDB's images (each URL through the
  SSRF guard; only real JPEG/PNG bodies under a size cap are stored).

Work is bounded by a deadline (API Gateway answers within 29 s): what a request cannot finish
(a long series' remaining seasons, a batch's remaining titles) goes to the work queue as a
``sidecars`` message, and the answer says so (``queued``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ..activity.log import ActivityLog
from ..adapters.sqs import WorkQueue
from ..api.errors import ApiError, Conflict, NotFound, Unavailable
from ..domain.clock import Deadline
from . import layout, nfo, tmdb
from .models import Art, Kind, MediaFile, ShowInfo, StoredObject
from .persistence import TooLarge
from .sources import Details, Image, Images, Library, NotConfigured, Objects, SourceFailed

log = logging.getLogger("haul.sidecars")
MESSAGE_KIND = "sidecars"
API_BUDGET_SECONDS = 20.0  # an API request's work; the rest goes to the work queue
WORKER_BUDGET_SECONDS = 300.0
MAX_NFO_BYTES = 256 * 1024  # an NFO read back for GET …/content
MAX_EPISODES_SHOWN = 500
NFO_TYPE = "text/xml; charset=utf-8"
_IMAGE_TYPES = {b"\xff\xd8\xff": ("jpg", "image/jpeg"), b"\x89PNG\r\n\x1a\n": ("png", "image/png")}


class BadGateway(ApiError):
    status, code = 502, "PROVIDER_ERROR"


class ProviderMissing(Unavailable):
    """TMDB has no configuration: 503 naming the setting, with the providers' code."""

    code = "PROVIDER_NOT_CONFIGURED"


@dataclass(frozen=True)
class Options:
    poster: bool = True
    fanart: bool = True
    logo: bool = True
    episodes: bool = True  # a series' episode NFOs

    def arts(self) -> list[Art]:
        return [a for a, on in ((Art.POSTER, self.poster), (Art.FANART, self.fanart), (Art.LOGO, self.logo)) if on]



@dataclass
class _Title:
    kind: Kind
    tmdb_id: int
    files: list[MediaFile]
    folder: str
    listing: dict[str, StoredObject]

    @property
    def nfo_key(self) -> str:
        return layout.nfo_key(self.kind, self.folder)

    def inside(self) -> list[MediaFile]:
        return [f for f in self.files if f.key.startswith(self.folder)]


def image_kind(image: Image) -> tuple[str, str] | None:
    """``(extension, content type)`` of a JPEG or PNG body, by its first bytes; else None."""
    for magic, kind in _IMAGE_TYPES.items():
        if image.body.startswith(magic):
            return kind
    return None


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


class SidecarService:
    def __init__(self, library: Library, details: Details, images: Images, objects: Objects,
                 queue: WorkQueue | None = None, activity: ActivityLog | None = None,
                 monotonic: Callable[[], float] = time.monotonic, threads: int = 3) -> None:
        self.library = library
        self.details = details
        self.images = images
        self.objects = objects
        self.queue = queue
        self.activity = activity
        self._monotonic = monotonic
        self.threads = threads

    # -- reading ----------------------------------------------------------------------------
    def _title(self, owner: str, kind: Kind, tmdb_id: int) -> _Title:
        files = self.library.files(owner, kind, tmdb_id)
        if not files:
            raise NotFound(f"no completed {kind.value} download with tmdb_id {tmdb_id} in your library")
        folder = layout.folder_of(kind, files)
        if folder is None:
            raise Conflict(f"the files of {kind.value} {tmdb_id} are not in a folder of their own "
                           "(set a naming template or a path, then rename them)")
        return _Title(kind, tmdb_id, files, folder, self.objects.folder(folder))

    def _foreign(self, owner: str, key: str, listing: dict[str, StoredObject]) -> bool:
        """Whether ``key`` is a sidecar another user wrote (users whose downloads share a folder
        share its sidecar names): such an object is never replaced, deleted or shown."""
        return key in listing and self.objects.owner(key) not in (None, "", owner)

    def _has_nfo(self, owner: str, t: _Title) -> bool:
        return t.nfo_key in t.listing and not self._foreign(owner, t.nfo_key, t.listing)

    def _view(self, owner: str, t: _Title) -> dict[str, Any]:
        nfo_obj = t.listing.get(t.nfo_key) if self._has_nfo(owner, t) else None
        media: dict[str, Any] = {}
        for art, name in ((Art.POSTER, "poster"), (Art.FANART, "fanart"), (Art.LOGO, "logo")):
            key = next((k for k in layout.art_keys(t.folder, art) if k in t.listing), None)
            media[f"has_{name}"], media[f"{name}_key"] = key is not None, key
        seasons = sorted({f.season for f in t.inside() if f.season is not None}) if t.kind is Kind.TV else []
        media["season_posters"] = [n for n in seasons
                                   if any(k in t.listing for k in layout.season_poster_keys(t.folder, n))]
        inside = t.inside()
        view: dict[str, Any] = {
            "kind": t.kind.value, "tmdb_id": t.tmdb_id, "folder": t.folder, "has_nfo": nfo_obj is not None,
            "nfo_key": t.nfo_key, "nfo_last_modified": nfo_obj.last_modified if nfo_obj else None,
            "media_files": media,
            "videos": {"total": len(t.files), "present": sum(1 for f in inside if f.key in t.listing),
                       "outside_folder": len(t.files) - len(inside)},
        }
        if t.kind is Kind.TV:
            episodes = sorted((f for f in inside if f.season is not None and f.episode is not None),
                              key=lambda f: (f.season or 0, f.episode or 0, f.key))
            view["episodes"] = [
                {"season": f.season, "episode": f.episode, "key": f.key, "present": f.key in t.listing,
                 "nfo_key": layout.episode_nfo_key(f.key), "has_nfo": layout.episode_nfo_key(f.key) in t.listing}
                for f in episodes[:MAX_EPISODES_SHOWN]
            ]
            view["episodes_truncated"] = len(episodes) > MAX_EPISODES_SHOWN
        return view

    def status(self, owner: str, kind: Kind, tmdb_id: int) -> dict[str, Any]:
        return self._view(owner, self._title(owner, kind, tmdb_id))

    def content(self, owner: str, kind: Kind, tmdb_id: int) -> dict[str, Any]:
        t = self._title(owner, kind, tmdb_id)
        if not self._has_nfo(owner, t):
            raise NotFound(f"{kind.value} {tmdb_id} has no NFO yet (create it with POST)")
        try:
            found = self.objects.get(t.nfo_key, MAX_NFO_BYTES)
        except TooLarge:
            raise Conflict(f"{t.nfo_key} is larger than {MAX_NFO_BYTES} bytes") from None
        if found is None:
            raise NotFound(f"{kind.value} {tmdb_id} has no NFO yet (create it with POST)")
        body, stored = found
        return {"kind": kind.value, "tmdb_id": tmdb_id, "folder": t.folder, "nfo_key": t.nfo_key,
                "content": body.decode("utf-8", errors="replace"), "file_size": stored.size,
                "last_modified": stored.last_modified}

    # -- writing ----------------------------------------------------------------------------
    def create(self, owner: str, actor: str, kind: Kind, tmdb_id: int, options: Options,
               overwrite: bool = False) -> dict[str, Any]:
        t = self._title(owner, kind, tmdb_id)
        if self._has_nfo(owner, t) and not overwrite:
            raise Conflict(f"{t.nfo_key} exists already (send overwrite: true, or PUT to refresh it)")
        return self._write(owner, actor, t, options, overwrite, Deadline(API_BUDGET_SECONDS, self._monotonic))

    def refresh(self, owner: str, actor: str, kind: Kind, tmdb_id: int, options: Options) -> dict[str, Any]:
        t = self._title(owner, kind, tmdb_id)
        if not self._has_nfo(owner, t):
            raise NotFound(f"{kind.value} {tmdb_id} has no NFO yet (create it with POST)")
        return self._write(owner, actor, t, options, True, Deadline(API_BUDGET_SECONDS, self._monotonic))

    def _provider(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call()
        except NotConfigured as exc:
            raise ProviderMissing(f"TMDB is not configured: the setting {exc.setting} is not set "
                                  "(PATCH /api/v1/settings/providers)",
                                  [{"field": exc.setting, "message": "is not set"}]) from None
        except SourceFailed as exc:
            if exc.not_found:
                raise NotFound(f"TMDB does not know this title: {exc}") from None
            raise BadGateway(f"TMDB failed: {exc}") from None

    def _write(self, owner: str, actor: str, t: _Title, options: Options, overwrite: bool,
               deadline: Deadline, seasons: list[int] | None = None) -> dict[str, Any]:
        urls = tmdb.ImageUrls(self._provider(self.details.configuration))
        raw = self._provider(lambda: self.details.details(t.kind, t.tmdb_id))
        written: list[str] = []
        warnings: list[str] = []
        show: ShowInfo | None = None
        if seasons is None:  # the title's own NFO and art (a continuation writes episodes only)
            if t.kind is Kind.TV:
                show = tmdb.show_info(raw, urls)
                document, art = nfo.tvshow_nfo(show), show.art
            else:
                movie = tmdb.movie_info(raw, urls)
                document, art = nfo.movie_nfo(movie), movie.art
            if self._foreign(owner, t.nfo_key, t.listing):
                warnings.append(f"{t.nfo_key} is another user's (their download shares this folder); left as it is")
            else:
                self.objects.put(t.nfo_key, document, NFO_TYPE, owner)
                written.append(t.nfo_key)
            for kind in options.arts():
                url = {Art.POSTER: art.poster, Art.FANART: art.fanart, Art.LOGO: art.logo}[kind]
                key, problem = self._image(owner, t, kind.value, url, layout.art_keys(t.folder, kind), overwrite)
                written.extend([key] if key else [])
                warnings.extend([problem] if problem else [])
            if show is not None and options.poster:
                posters, problems = self._season_posters(owner, t, show, overwrite, deadline)
                written.extend(posters)
                warnings.extend(problems)
        else:
            show = tmdb.show_info(raw, urls)
        queued: list[int] = []
        if t.kind is Kind.TV and options.episodes and show is not None:
            episodes, skipped, queued, problems = self._episodes(owner, t, show, urls, overwrite, deadline, seasons)
            written.extend(episodes)
            warnings.extend(problems)
            if queued:
                self._enqueue({"owner": owner, "actor": actor, "media_kind": t.kind.value, "tmdb_id": t.tmdb_id,
                               "options": asdict(options), "overwrite": overwrite, "seasons": queued})
        if self.activity is not None:
            self.activity.record(owner=owner, actor=actor, kind="library.nfo",
                                 message=f"wrote {len(written)} sidecar file(s) for {t.kind.value} {t.tmdb_id} "
                                         f"in {t.folder}" + (f"; seasons {queued} queued" if queued else ""),
                                 data={"tmdb_id": t.tmdb_id, "kind": t.kind.value, "folder": t.folder})
        t.listing = self.objects.folder(t.folder)
        return {**self._view(owner, t), "written": written, "warnings": warnings, "queued_seasons": queued,
                "message": "NFO and artwork written" + (" (some seasons continue in the background)" if queued else "")}

    def _image(self, owner: str, t: _Title, label: str, url: str | None, keys: list[str],
               overwrite: bool) -> tuple[str | None, str | None]:
        """Store the image at ``url`` under the one of ``keys`` (its names by extension) its
        bytes deserve; (the key written, a warning)."""
        if not url:
            return None, f"TMDB has no {label} for {t.kind.value} {t.tmdb_id}"
        if not overwrite and any(k in t.listing for k in keys):
            return None, None
        if any(self._foreign(owner, k, t.listing) for k in keys):
            return None, f"{label}: {t.folder} has another user's (their download shares this folder); left as it is"
        try:
            image = self.images.fetch(url)
        except SourceFailed as exc:
            return None, f"{label}: {exc}"
        kind = image_kind(image)
        key = next((k for k in keys if kind and k.endswith(f".{kind[0]}")), None)
        if kind is None or key is None:
            return None, f"{label}: {url} is not a {' or '.join(k.rsplit('.', 1)[1] for k in keys)} image"
        self.objects.put(key, image.body, kind[1], owner)
        for stale in keys:  # a poster.jpg replaced by a poster.png
            if stale != key and stale in t.listing:
                self.objects.delete(stale)
        return key, None

    def _season_posters(self, owner: str, t: _Title, show: ShowInfo, overwrite: bool,
                        deadline: Deadline) -> tuple[list[str], list[str]]:
        """``seasonNN-poster`` of each season the series has files of, in the series' folder."""
        urls = dict(show.season_posters)
        written, warnings = [], []
        for season in sorted({f.season for f in t.inside() if f.season is not None}):
            if deadline.passed:
                warnings.append(f"season posters from season {season} on were left out (out of time)")
                break
            key, problem = self._image(owner, t, f"season {season} poster", urls.get(season),
                                       layout.season_poster_keys(t.folder, season), overwrite)
            written.extend([key] if key else [])
            warnings.extend([problem] if problem else [])
        return written, warnings

    def _episodes(self, owner: str, t: _Title, show: ShowInfo, urls: tmdb.ImageUrls, overwrite: bool,
                  deadline: Deadline, only: list[int] | None) -> tuple[list[str], int, list[int], list[str]]:
        by_season: dict[int, list[MediaFile]] = defaultdict(list)
        for f in t.inside():
            if f.season is not None and f.episode is not None and layout.is_video(f.key):
                by_season[f.season].append(f)
        seasons = sorted(s for s in by_season if only is None or s in only)
        written: list[str] = []
        problems: list[str] = []
        skipped = 0
        for i, season in enumerate(seasons):
            if deadline.passed:
                return written, skipped, seasons[i:], problems
            todo = [f for f in by_season[season]
                    if overwrite or layout.episode_nfo_key(f.key) not in t.listing]
            skipped += len(by_season[season]) - len(todo)
            if not todo:
                continue
            try:
                answer = self._provider(functools.partial(self.details.season, t.tmdb_id, season))
                found = {e.episode: e for e in tmdb.episodes(answer, urls)}
            except NotFound:
                problems.append(f"TMDB has no season {season} of {t.tmdb_id}")
                continue
            for f in todo:
                episode = found.get(f.episode or 0)
                if episode is None:
                    problems.append(f"TMDB has no episode S{season:02d}E{f.episode or 0:02d}")
                    continue
                key = layout.episode_nfo_key(f.key)
                if self._foreign(owner, key, t.listing):
                    problems.append(f"{key} is another user's; left as it is")
                    continue
                self.objects.put(key, nfo.episode_nfo(show, episode), NFO_TYPE, owner)
                written.append(key)
        return written, skipped, [], problems

    def _enqueue(self, body: dict[str, Any]) -> None:
        if self.queue is None:
            raise Unavailable("the work queue is not available to finish this in the background")
        self.queue.send({"kind": MESSAGE_KIND, **body})

    # -- many at once -----------------------------------------------------------------------
    def batch(self, owner: str, actor: str, items: list[tuple[Kind, int]], options: Options,
              skip_existing: bool = True, overwrite: bool = False) -> dict[str, Any]:
        """Create the NFOs of many titles: as many as fit in the request's time, the rest queued."""
        deadline = Deadline(API_BUDGET_SECONDS, self._monotonic)
        unique = list(dict.fromkeys(items))

        def one(item: tuple[Kind, int]) -> dict[str, Any]:
            kind, tmdb_id = item
            base = {"kind": kind.value, "tmdb_id": tmdb_id, "nfo_key": None, "folder": None}
            if deadline.passed:
                self._enqueue({"owner": owner, "actor": actor, "media_kind": kind.value, "tmdb_id": tmdb_id,
                               "options": asdict(options), "overwrite": overwrite, "skip_existing": skip_existing})
                return {**base, "status": "queued", "message": "continues in the background"}
            try:
                t = self._title(owner, kind, tmdb_id)
                base.update(nfo_key=t.nfo_key, folder=t.folder)
                if self._has_nfo(owner, t) and not overwrite:
                    if skip_existing:
                        return {**base, "status": "skipped", "message": "the NFO exists already"}
                    raise Conflict(f"{t.nfo_key} exists already")
                done = self._write(owner, actor, t, options, overwrite, deadline)
                status = "queued" if done["queued_seasons"] else "created"
                return {**base, "status": status, "message": "; ".join(done["warnings"][:3]) or done["message"]}
            except ApiError as exc:
                return {**base, "status": "failed", "message": exc.message, "code": exc.code}

        with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
            results = list(pool.map(one, unique))
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "skipped", "failed", "queued")}
        return {"total": len(results), **counts, "results": results}

    def on_message(self, body: dict[str, Any], budget: float = WORKER_BUDGET_SECONDS) -> None:
        """A ``sidecars`` work message: a batch's title, or a series' remaining seasons."""
        owner, actor = str(body["owner"]), str(body.get("actor") or "sidecars")
        kind, tmdb_id = Kind(body["media_kind"]), int(body["tmdb_id"])
        options = Options(**{k: bool(v) for k, v in (body.get("options") or {}).items()
                             if k in Options.__dataclass_fields__})
        overwrite = bool(body.get("overwrite"))
        try:
            t = self._title(owner, kind, tmdb_id)
            if body.get("seasons") is None and not overwrite and self._has_nfo(owner, t):
                return  # a batch's title written meanwhile (or skip_existing): nothing to do
            seasons = [int(s) for s in body["seasons"]] if body.get("seasons") is not None else None
            self._write(owner, actor, t, options, overwrite, Deadline(budget, self._monotonic), seasons)
        except ApiError as exc:
            if exc.status >= 500:  # TMDB failing or busy: SQS delivers the message again later
                raise
            # A 4xx is not retried: the same input fails the same way.
            log.warning("sidecars for %s %s of %s: %s", kind.value, tmdb_id, owner, exc.message)

    # -- the owner's titles ------------------------------------------------------------------
    def titles(self, owner: str, limit: int) -> dict[str, Any]:
        """The owner's titles (newest download first), each with its NFO state checked in its
        folder, at most ``limit`` (and what fits in the request's time)."""
        deadline = Deadline(API_BUDGET_SECONDS, self._monotonic)
        titles = self.library.titles(owner, limit + 1)
        found, truncated = [], len(titles) > limit
        for title in titles[:limit]:
            if deadline.passed:
                truncated = True
                break
            base = {"kind": title.kind.value, "tmdb_id": title.tmdb_id, "title": title.title, "year": title.year}
            try:
                view = self.status(owner, title.kind, title.tmdb_id)
            except (NotFound, Conflict) as exc:
                found.append({**base, "folder": None, "has_nfo": False, "nfo_key": None, "has_media": False,
                              "media_files": None, "reason": exc.message})
                continue
            media = view["media_files"]
            found.append({**base, "folder": view["folder"], "has_nfo": view["has_nfo"], "nfo_key": view["nfo_key"],
                          "has_media": any(media[f"has_{n}"] for n in ("poster", "fanart", "logo")),
                          "media_files": media, "reason": None})
        return {"total_titles": len(found), "truncated": truncated, "titles": found}

    def missing(self, owner: str, limit: int) -> dict[str, Any]:
        """The owner's titles without an NFO, of the ``limit`` newest checked."""
        checked = self.titles(owner, limit)
        missing = [{k: v for k, v in t.items() if k not in ("has_nfo", "nfo_key")}
                   for t in checked["titles"] if not t["has_nfo"]]
        return {"total_titles": checked["total_titles"], "missing_nfo_count": len(missing),
                "truncated": checked["truncated"], "titles": missing}

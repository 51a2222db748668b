"""Filenames from users, Content-Disposition headers and URLs, made safe for an S3 key."""

from __future__ import annotations

import random
import unicodedata

import pytest

from chalicelib.domain.filenames import (
    DEFAULT_FILENAME,
    MAX_FILENAME_BYTES,
    choose,
    from_content_disposition,
    from_url,
    sanitize,
)


def assert_safe(name: str) -> None:
    assert name
    assert "/" not in name and "\\" not in name
    assert name not in {".", ".."}
    assert len(name.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name)
    assert name == name.strip() and not name.startswith(".") and not name.endswith(".")
    assert sanitize(name) == name  # idempotent


# -- sanitize ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\Windows\\System32\\cmd.exe", "cmd.exe"),
        ("dir/", DEFAULT_FILENAME),
        ("..", DEFAULT_FILENAME),
        ("...", DEFAULT_FILENAME),
        ("", DEFAULT_FILENAME),
        ("   ", DEFAULT_FILENAME),
        (" . . ", DEFAULT_FILENAME),
        ("a . .", "a"),
        ("  report.pdf  ", "report.pdf"),
        (".hidden", "hidden"),
        ("name.", "name"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("tab\there.txt", "tab_here.txt"),
        ("nul\x00byte.bin", "nul_byte.bin"),
        ("line\r\nbreak.txt", "line__break.txt"),
        ("del\x7f.txt", "del_.txt"),
        ("c1\x85control\x9f.txt", "c1control.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("sep\u2028arator.txt", "separator.txt"),
    ],
)
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean
    assert_safe(sanitize(raw))


@pytest.mark.parametrize(
    "name",
    [
        "Ünïcödé file.mkv",
        "日本語のファイル.zip",
        "Ελληνικά.txt",
        "emoji 🎬🍿.mp4",
        "Café – Crème brûlée (2024) [1080p].mkv",
    ],
)
def test_unicode_is_kept(name: str) -> None:
    assert sanitize(name) == name


def test_unicode_is_normalised_to_nfc() -> None:
    decomposed = "Cafe\u0301.txt"
    assert sanitize(decomposed) == "Café.txt"
    assert len(sanitize(decomposed)) == 8


def test_long_ascii_name_is_cut_to_255_bytes_keeping_the_extension() -> None:
    name = sanitize("a" * 400 + ".tar.gz")
    assert len(name.encode()) == MAX_FILENAME_BYTES
    assert name.endswith(".gz")
    assert_safe(name)


@pytest.mark.parametrize("char", ["é", "日", "🎬"])
def test_long_multibyte_name_is_cut_on_a_character_boundary(char: str) -> None:
    name = sanitize(char * 300 + ".mkv")
    encoded = name.encode("utf-8")
    assert len(encoded) <= MAX_FILENAME_BYTES
    assert len(encoded) > MAX_FILENAME_BYTES - len(char.encode())  # as long as fits
    assert name.endswith(".mkv")
    assert set(name[:-4]) == {char}
    assert_safe(name)


def test_a_long_extension_is_not_kept() -> None:
    name = sanitize("x" * 300 + "." + "e" * 40)
    assert len(name.encode()) == MAX_FILENAME_BYTES
    assert set(name) == {"x"}


def test_a_name_of_exactly_255_bytes_is_untouched() -> None:
    name = "é" * 100 + "a" * 51 + ".txt"
    assert len(name.encode()) == 255
    assert sanitize(name) == name


@pytest.mark.parametrize("tail", [" ", ".", " . "])
def test_a_cut_never_leaves_a_trailing_space_or_dot(tail: str) -> None:
    name = sanitize("a" * 254 + tail + "b" * 20)
    assert_safe(name)
    assert name == "a" * 254


def test_pathological_input_is_handled_quickly() -> None:
    import time

    began = time.monotonic()
    for raw in ["a" + " " * 50_000 + "b", " ." * 50_000, "é" * 100_000]:
        assert_safe(sanitize(raw))
    assert time.monotonic() - began < 2.0


def test_random_names_are_always_safe() -> None:
    rng = random.Random(5)
    alphabet = "ab.é日🎬 /\\\x00\x1f\x7f\u202e\u200b:*?<>|\"\t\n-_" + "\u0301"
    for _ in range(2000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
        assert_safe(sanitize(raw))


# -- Content-Disposition -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename=plain.txt", "plain.txt"),
        ('inline; filename="with space.txt"', "with space.txt"),
        ("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt", "€ rates.txt"),
        ("attachment; filename*=utf-8''na%C3%AFve.txt", "naïve.txt"),
        ("attachment; filename*=UTF-8'fr'%C3%A9t%C3%A9.txt", "été.txt"),
        ("attachment; filename*=ISO-8859-1''%E9t%E9.txt", "été.txt"),
        # Both forms: filename* wins, whichever comes first (RFC 6266 section 4.3).
        ("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt", "€.txt"),
        ("attachment; filename*=UTF-8''%E2%82%AC.txt; filename=\"fallback.txt\"", "€.txt"),
        # RFC 2231 continuations.
        ("attachment; filename*0*=UTF-8''a%C3%A9; filename*1=b.txt", "aéb.txt"),
        # Path traversal and control characters in either form.
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ("attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("attachment; filename*=UTF-8''..%5C..%5Cboot.ini", "boot.ini"),
        ("attachment; filename*=UTF-8''a%0D%0Ab.txt", "a__b.txt"),
        ("attachment; filename*=UTF-8''%2E%2E", DEFAULT_FILENAME),
    ],
)
def test_content_disposition(header: str, name: str) -> None:
    assert from_content_disposition(header) == name


@pytest.mark.parametrize("header", [None, "", "inline", "attachment", 'attachment; filename=""', "attachment; name=x"])
def test_content_disposition_without_a_filename(header: str | None) -> None:
    assert from_content_disposition(header) is None


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/files/movie.mkv", "movie.mkv"),
        ("https://example.com/files/movie.mkv?token=abc#frag", "movie.mkv"),
        ("https://example.com/files/caf%C3%A9%20menu.pdf", "café menu.pdf"),
        ("https://example.com/dir/", "dir"),
        ("https://example.com/", DEFAULT_FILENAME),
        ("https://example.com", DEFAULT_FILENAME),
        ("https://example.com/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("https://example.com/%2e%2e", DEFAULT_FILENAME),
        ("https://example.com/a%00b.bin", "a_b.bin"),
    ],
)
def test_from_url(url: str, name: str) -> None:
    assert from_url(url) == name


def test_choose_prefers_content_disposition() -> None:
    assert choose('attachment; filename="real.iso"', "https://h/download.php") == "real.iso"
    assert choose(None, "https://h/download.php") == "download.php"
    assert choose("inline", "https://h/x.bin") == "x.bin"

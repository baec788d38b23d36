"""Read article files into :class:`~rag.models.Article` records.

Formats, chosen by file name and content:

* the crawler format: line 1 `` date YYYY-MM-DD URL``, then the title, then the body;
* plain text without that header: the first line is the title, the date is unknown;
* Markdown (``.md``): ``# Title`` and ``##`` headings;
* JSON Lines (``.jsonl``): one ``{"url", "date", "title", "text"}`` record per line.

The stored text is the body exactly as it is in the file; sections and sentences are spans of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..rag.dates import iso_date
from ..rag.errors import ParseError
from ..rag.models import Article, Section, Sentence
from ..rag.sentences import sentence_spans
from .headlines import find_glued_headlines, find_line_headlines

__all__ = ["PARSER_VERSION", "parse_file", "parse_text", "article_id_for", "ParsedFile", "ARTICLE_SUFFIXES"]

#: Bump when parsing or what is embedded changes, so that re-ingesting rewrites unchanged files.
PARSER_VERSION = "2"
#: A body with more than 100 sentences, and more than one per this many characters, has its short
#: sentences joined (no news article is that fine-grained; a pathological file must not cost more than
#: a normal one of its size).
MIN_SENTENCE_CHARS = 100

_HEADER = re.compile(r"^\ufeff?[ \t]*date[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$")
_MD_TITLE = re.compile(r"^[ \t]*#[ \t]+(.+?)[ \t#]*$")
TEXT_SUFFIXES = (".txt", ".text")
MARKDOWN_SUFFIXES = (".md", ".markdown")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: The one list of file suffixes newsrag reads (folders are scanned for these; uploads accept these).
ARTICLE_SUFFIXES = TEXT_SUFFIXES + MARKDOWN_SUFFIXES + JSONL_SUFFIXES


@dataclass
class ParsedFile:
    """Everything one file yielded: articles, and errors for the records that failed."""

    path: Path
    articles: list[Article]
    errors: list[ParseError]


def article_id_for(url: str | None, fallback: str) -> str:
    key = _normalise_url(url) if url else f"path:{fallback}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _normalise_url(url: str) -> str:
    parts = urlparse(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}{'?' + parts.query if parts.query else ''}"


def _source_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlparse(url).hostname
    return host.lower().removeprefix("www.") if host else None


def _parse_date(value: object, source: str, line: int | None) -> dt.date | None:
    try:
        return iso_date(value)
    except ValueError as e:
        raise ParseError(source, f"{e}; fix it or remove it", line) from None


def _check_url(url: object, source: str, line: int | None) -> str | None:
    if url in (None, ""):
        return None
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).hostname:
        raise ParseError(source, f"URL {url!r} is not an absolute http(s) URL", line)
    return url.strip()


def decode(data: bytes, source: str) -> str:
    """UTF-8 text or a ParseError naming the first bad byte."""
    if not data.strip():
        raise ParseError(source, "empty file; nothing to ingest")
    if b"\x00" in data[:8192]:
        raise ParseError(source, "binary file (NUL bytes); expected UTF-8 text, Markdown or JSON Lines")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 1].hex()
        raise ParseError(
            source, f"not UTF-8 text (byte 0x{bad} at offset {e.start}); convert it, e.g. `iconv -t UTF-8`"
        ) from None


def parse_file(path: Path, max_bytes: int = 5_000_000) -> ParsedFile:
    """Parse one file. File-level problems raise :class:`ParseError`; JSONL line problems are collected."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(
                source, f"file is {size:,} bytes, over the limit of {max_bytes:,}; split it or raise NEWSRAG_MAX_FILE_BYTES"
            )
        data = path.read_bytes()
    except OSError as e:
        raise ParseError(source, f"cannot read: {e.strerror or e}") from e
    text = decode(data, source)
    resolved = str(path.resolve())
    if path.suffix.lower() in JSONL_SUFFIXES:
        return _parse_jsonl(path, text, resolved)
    markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
    return ParsedFile(path, [parse_text(text, source=source, path=resolved, markdown=markdown)], [])


def _parse_jsonl(path: Path, text: str, resolved: str) -> ParsedFile:
    source = str(path)
    articles, errors = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ParseError(source, f"not valid JSON ({e.msg} at column {e.colno}); line skipped", n) from None
            if not isinstance(record, dict):
                raise ParseError(source, "expected a JSON object with url, date, title, text", n)
            body = record.get("text")
            if not isinstance(body, str) or not body.strip():
                raise ParseError(source, 'record has no "text"; line skipped', n)
            title = record.get("title")
            if title is not None and not isinstance(title, str):
                raise ParseError(source, '"title" must be a string', n)
            url = _check_url(record.get("url"), source, n)
            date = _parse_date(record.get("date"), source, n)
            articles.append(
                _build(body, title=(title or "").strip() or _first_words(body), url=url, date=date, path=resolved, line=n)
            )
        except ParseError as e:
            errors.append(e)
    if not articles and not errors:
        errors.append(ParseError(source, "no records in this JSON Lines file"))
    return ParsedFile(path, articles, errors)


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) for each line, offsets into text."""
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        yield pos, pos + len(stripped), stripped
        pos += len(line)


def parse_text(text: str, source: str = "<text>", path: str | None = None, markdown: bool = False) -> Article:
    """Parse the text of one article file (header format, Markdown or plain)."""
    lines = [entry for entry in _lines(text) if entry[2].strip()]
    if not lines:
        raise ParseError(source, "empty file; nothing to ingest")
    url: str | None = None
    date: dt.date | None = None
    first = 0
    header = _HEADER.match(lines[0][2])
    if header:
        at = text.count("\n", 0, lines[0][0]) + 1  # the header's line number (blank lines may precede it)
        date = _parse_date(header.group(1), source, at)
        url = _check_url(header.group(2), source, at)
        first = 1
        if len(lines) < 2:
            raise ParseError(source, "header line but no title or body after it")
    title_start, title_end, title_line = lines[first]
    md = _MD_TITLE.match(title_line)
    if md:
        title = md.group(1).strip()
    elif markdown and not header:
        title = title_line.strip()
    else:
        title = title_line.strip()
    body_from = title_end
    if len(title) > 300:
        # a file that starts with prose: keep the whole text as the body, shorten the title
        title, body_from = _first_words(title_line), title_start
    body_start = _skip_space(text, body_from)
    body_end = len(text.rstrip())
    if body_start >= body_end:
        raise ParseError(source, f"no body text after the title {title!r}")
    body = text[body_start:body_end]
    return _build(body, title=title, url=url, date=date, path=path or source, line=None)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _first_words(text: str, n: int = 12) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def _build(body: str, *, title: str, url: str | None, date: dt.date | None, path: str, line: int | None) -> Article:
    sections = split_sections(body)
    spans = [(section.index, s, e) for section in sections for s, e in sentence_spans(body, section.body_start, section.end)]
    if len(spans) > max(100, len(body) // MIN_SENTENCE_CHARS):
        spans = _coarsen(spans)
    sentences = [Sentence(index=i, section=sec, start=s, end=e) for i, (sec, s, e) in enumerate(spans)]
    content_hash = hashlib.sha256(
        json.dumps([PARSER_VERSION, title, url, date.isoformat() if date else None, body]).encode("utf-8")
    ).hexdigest()
    article = Article(
        id=article_id_for(url, path if line is None else f"{path}#L{line}"),  # the id scheme of earlier versions
        title=title,
        url=url,
        source=_source_of(url),
        date=date,
        path=path,
        line=line,
        text=body,
        sections=sections,
        sentences=sentences,
        n_sections=len(sections),
        n_sentences=len(sentences),
        content_hash=content_hash,
    )
    return article


def _coarsen(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join neighbouring sentences of a section until each is at least :data:`MIN_SENTENCE_CHARS` long.

    Only for bodies split finer than news ever is (50 KB of ``Go now.`` is 6,250 sentences): every
    sentence is embedded, so such a file would cost ten times a normal one of its size. The joined
    spans still satisfy ``text[start:end] == sentence``."""
    out: list[tuple[int, int, int]] = []
    for sec, s, e in spans:
        if out and out[-1][0] == sec and out[-1][2] - out[-1][1] < MIN_SENTENCE_CHARS:
            out[-1] = (sec, out[-1][1], e)
        else:
            out.append((sec, s, e))
    return out


def split_sections(body: str) -> list[Section]:
    """Sections that tile the body: a lead (if there is text before the first headline), then one per
    headline, each running to the next headline. A Markdown heading's section starts at its ``#``."""
    heads: list[tuple[int, int, int]] = []  # (section start, headline start, headline end)
    for s, e in sorted(set(find_glued_headlines(body)) | set(find_line_headlines(body))):
        if heads and s < heads[-1][2]:
            continue  # a line headline that also matched as glued
        line_start = body.rfind("\n", 0, s) + 1
        start = line_start if body[line_start:s].strip(" \t#") == "" else s
        heads.append((start, s, e))
    sections: list[Section] = []
    first = heads[0][0] if heads else len(body)
    if body[:first].strip():
        sections.append(Section(index=0, headline=None, start=0, body_start=0, end=first))
    for k, (start, s, e) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(body)
        sections.append(
            Section(index=len(sections), headline=body[s:e], start=start, body_start=min(_skip_space(body, e), end), end=end)
        )
    return sections

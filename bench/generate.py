"""Build a benchmark repository: N realistic posts, a few small real images, a published log
covering every past post (written with `publisher.ledger.Record`, digests from the real
composer), committed and pushed to a bare origin, as a deployment has it.

Deterministic for a given N and seed, so two runs measure the same work.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
IMAGES = BENCH / "images"
#: The instant every benchmark run is evaluated at (`--now`).
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
NOW_ARG = "2027-06-01T12:00:00Z"
ZONE = "Europe/Berlin"
PAST_SHARE = 0.9  # nine posts in ten are already published; the rest are scheduled
CONFIG = f'timezone = "{ZONE}"\nmax_per_run = 10\n'

PHOTOS = ["python.png", "python.jpg", "python.webp", "launch.png"]
GIF = "python.gif"
ALTS = [
    "The Python logo, two interlocking snakes in blue and yellow.",
    "A paper rocket on a desk, ready for launch.",
    "Screenshot of the release notes page with the new version number highlighted.",
    "A hand-drawn chart: builds per week going up and to the right.",
    "Our team at the meetup, six people smiling behind a table of stickers.",
]
WORDS = (
    "release notes today version update project community thanks contributors fixed bug "
    "feature docs guide tutorial build faster smaller cleaner stable preview beta test "
    "meetup talk slides recording open source python markdown schedule posts workflow "
    "small steps every week we shipped learned tried changed improved"
).split()
HASHTAGS = ["#opensource", "#python", "#release", "#fediverse", "#devlog", "#100DaysOfCode"]
CJK = [
    "新しいバージョンを公開しました。",
    "今天发布了新版本，欢迎试用。",
    "새 버전이 나왔습니다.",
    "ドキュメントを更新しました",
]
EMOJI = ["🚀", "🎉", "✨", "👩‍💻", "🇩🇪", "🙏🏽", "📦"]
TITLES = ["Release", "Weekly notes", "Meetup", "Docs day", "Changelog", "Preview"]


@dataclass(frozen=True)
class Repo:
    """A generated benchmark repository and its bare origin."""

    root: Path
    origin: Path
    posts: int
    past: int
    future: int
    drafts: int
    log_records: int


def git_env(home: Path) -> dict[str, str]:
    """A private, hermetic environment for git and the publisher processes."""
    # PYTHONDONTWRITEBYTECODE (set on some CI and sandbox machines) would make every run
    # compile the publisher's source again; an installed tool has its bytecode cached.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MASTODON_", "X_", "GITHUB_", "PUBLISHER_", "GIT_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", TZ="UTC",
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org")
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(5, 12))]
    words[0] = words[0].capitalize()
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.25:
        text += f" See [the notes](https://example.org/blog/{n}/{rng.choice(WORDS)})."
    elif roll < 0.4:
        text += f" https://example.org/p/{n}"
    elif roll < 0.5:
        text = f"**{text}**"
    else:
        text += "."
    return text


def body_text(rng: random.Random, n: int) -> str:
    """Markdown of 50-480 characters with links, hashtags, some CJK and emoji."""
    target = rng.randint(50, 480)
    pieces = [_sentence(rng, n)]
    while sum(len(p) + 1 for p in pieces) < target:
        roll = rng.random()
        if roll < 0.15:
            pieces.append(rng.choice(CJK))
        elif roll < 0.3:
            pieces.append(rng.choice(EMOJI))
        elif roll < 0.45:
            pieces.append(" ".join(rng.sample(HASHTAGS, 2)))
        else:
            pieces.append(_sentence(rng, n))
    text = " ".join(pieces)
    while len(text) > 480 and len(pieces) > 1:
        pieces.pop()
        text = " ".join(pieces)
    if len(text) > 480:
        text = text[:470].rsplit(" ", 1)[0]
    if len(text) < 50:
        text += " Thanks to everyone who helped. #opensource"
    if len(text) < 400 and rng.random() < 0.2:
        text = text + "\n\n- faster start-up\n- smaller log"
    return text


def _date_text(rng: random.Random, local: datetime) -> str:
    """The same instant written the ways people write it."""
    roll = rng.random()
    if roll < 0.6:
        return f"{local:%Y-%m-%d %H:%M}"
    if roll < 0.8:
        return local.isoformat(timespec="seconds")
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _post_dates(n: int) -> list[datetime]:
    """Three slots a day (09:00, 13:00, 18:00 Berlin time, away from DST gaps): the
    past ones end just before NOW, the future ones start just after it."""
    zone = ZoneInfo(ZONE)
    today = NOW.astimezone(zone).date()
    past = round(n * PAST_SHARE)
    hours = (9, 13, 18)
    dates = []
    for i in range(past):
        day = today - timedelta(days=1 + i // 3)
        dates.append(datetime(day.year, day.month, day.day, hours[i % 3], tzinfo=zone))
    for i in range(n - past):
        day = today + timedelta(days=1 + i // 3)
        dates.append(datetime(day.year, day.month, day.day, hours[i % 3], tzinfo=zone))
    return dates


def _fits_x(markdown: str) -> bool:
    from publisher import text

    return text.x_length(text.to_plain_text(markdown)).fits


def post_file(rng: random.Random, n: int, local: datetime) -> tuple[str, bool]:
    """The text of one post file, and whether it is a draft."""
    body = body_text(rng, n)
    lines = ["---"]
    if rng.random() < 0.5:
        lines.append(f"title: {rng.choice(TITLES)} {n}")
    lines.append(f"date: {_date_text(rng, local)}")
    fits = _fits_x(body)
    mastodon_only = not fits and rng.random() < 0.5
    x_override = None
    if not fits and not mastodon_only:
        x_override = f"{rng.choice(TITLES)} {n}: https://example.org/p/{n} {rng.choice(EMOJI)}"
    roll = rng.random()
    if mastodon_only or (fits and roll < 0.1):
        lines.append("platforms: [mastodon]")
    elif fits and roll < 0.2:
        lines.append("platforms: [x]")
    elif roll < 0.7:
        lines.append("platforms: [mastodon, x]")
    # else: the default platforms from publisher.toml
    images = rng.choices([0, 1, 2, 3, 4], weights=[50, 20, 15, 10, 5])[0]
    if images:
        names = [GIF] if images == 1 and rng.random() < 0.2 else rng.sample(PHOTOS * 2, images)
        lines.append("media:")
        for name in names:
            lines.append(f"  - path: images/{name}")
            lines.append(f"    alt: \"{rng.choice(ALTS)}\"")
    if rng.random() < 0.3:
        lines.append(f"tags: [{', '.join(h[1:] for h in rng.sample(HASHTAGS, 2))}]")
    if x_override:
        lines.append(f'x: "{x_override}"')
    if rng.random() < 0.1:
        lines.append(f"mastodon: {{language: {rng.choice(['en', 'de', 'ja'])}}}")
    if mastodon_only and rng.random() < 0.2:
        lines.append("content_warning: Release details")
    draft = rng.random() < 0.02
    if draft:
        lines.append("draft: true")
    if mastodon_only and rng.random() < 0.1:
        body += "\n\n---\n\nMore in the next post of this thread. 🧵"
    lines.append("---")
    return "\n".join(lines) + "\n" + body + "\n", draft


def write_posts(root: Path, n: int, seed: int = 7) -> tuple[int, int]:
    """N posts in posts/ and the images in posts/images/; (future, drafts)."""
    rng = random.Random(seed * 1_000_003 + n)
    images = root / "posts" / "images"
    images.mkdir(parents=True)
    for src in IMAGES.iterdir():
        if src.suffix in (".png", ".jpg", ".webp", ".gif"):
            shutil.copyfile(src, images / src.name)
    drafts = 0
    dates = _post_dates(n)
    for i, local in enumerate(dates):
        text, draft = post_file(rng, i, local)
        drafts += draft
        (root / "posts" / f"{local:%Y-%m-%d-%H%M}-post-{i}.md").write_text(text, encoding="utf-8")
    return n - round(n * PAST_SHARE), drafts


def write_log(root: Path) -> int:
    """The published log of every past post, as real runs write it: an intent, then the
    result, for each part. Digests come from the real composer, so `check` finds them."""
    from publisher.config import load_settings
    from publisher.ledger import Ledger, Record
    from publisher.pipeline import load

    settings = load_settings(root)
    _, posts, items = load(settings, NOW, compose_all=True)
    problems = [p for post in posts for p in post.problems if p.severity == "error"]
    problems += [p for i in items for p in i.problems if p.severity == "error"]
    if problems:
        raise RuntimeError(f"generated posts are invalid: {problems[:3]}")
    records = []
    rng = random.Random(len(items))
    for item in items:
        message = item.composed.message if item.composed else None
        if item.post.draft or message is None or message.scheduled > NOW:
            continue
        for part in range(len(message.parts)):
            key = message.idempotency_key(part)
            sent = message.scheduled + timedelta(minutes=rng.randint(1, 20))
            common = dict(platform=message.platform, part=part, parts=len(message.parts),
                          key=key, scheduled=message.scheduled)
            records.append(Record("intent", message.post, message.account, message.digest,
                                  sent, **common))  # type: ignore[arg-type]
            remote = str(rng.randrange(10**17, 10**18))
            url = (f"https://social.example/@publisher/{remote}" if message.platform ==
                   "mastodon" else f"https://x.com/i/web/status/{remote}")
            records.append(Record("published", message.post, message.account, message.digest,
                                  sent + timedelta(seconds=2), remote_id=remote, url=url,
                                  **common))  # type: ignore[arg-type]
    Ledger(settings.log_path, []).append(records)
    return len(records)


def build(base: Path, n: int, seed: int = 7) -> Repo:
    """A committed, pushed repository of `n` posts in `base/site`, origin in `base/origin.git`."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = git_env(home)
    origin = base / "origin.git"
    root = base / "site"
    _git(base, env, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(base, env, "init", "-q", "-b", "main", str(root))
    _git(root, env, "remote", "add", "origin", str(origin))
    (root / "publisher.toml").write_text(CONFIG, encoding="utf-8")
    future, drafts = write_posts(root, n, seed)
    records = write_log(root)
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-q", "-m", f"{n} posts and their published log")
    _git(root, env, "push", "-q", "-u", "origin", "main")
    return Repo(root, origin, n, n - future, future, drafts, records)

"""Requests per post: a real `publisher publish` process sends 20 posts with 0-4 images to the
loopback Mastodon and X servers of tests/fakes, which count every request by endpoint.

The rule: Mastodon 1 status + 1 upload per image (+ media polls only while the server is
still processing), X 1 post + 2 per image (upload, alt text), the instance document at most
once per run. tests/test_requests_per_post.py asserts the same counts exactly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench.generate import IMAGES, NOW, NOW_ARG, git_env

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ["python.png", "python.jpg", "python.webp", "launch.png"]
POSTS = 20


def write_site(base: Path) -> tuple[Path, list[int]]:
    """A repository with a bare origin and POSTS due posts; returns it and images per post."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = git_env(home)
    origin, root = base / "origin.git", base / "site"

    def git(cwd: Path, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git(base, "init", "-q", "--bare", "-b", "main", str(origin))
    git(base, "init", "-q", "-b", "main", str(root))
    git(root, "remote", "add", "origin", str(origin))
    (root / "publisher.toml").write_text(f'timezone = "UTC"\nmax_per_run = {POSTS}\n')
    images = root / "posts" / "images"
    images.mkdir(parents=True)
    for name in PHOTOS:
        shutil.copyfile(IMAGES / name, images / name)
    counts = []
    for i in range(POSTS):
        n = i % 5
        when = NOW - timedelta(minutes=5 + i)
        media = "".join(f"  - path: images/{PHOTOS[(i + k) % 4]}\n    alt: Image {k + 1} of "
                        f"post {i}\n" for k in range(n))
        text = (f"---\ndate: {when:%Y-%m-%dT%H:%M:%SZ}\nplatforms: [mastodon, x]\n"
                + (f"media:\n{media}" if media else "")
                + f"---\nPost {i} with {n} image(s): https://example.org/{i} #bench 🚀\n")
        (root / "posts" / f"post-{i:02}.md").write_text(text, encoding="utf-8")
        counts.append(n)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "posts")
    git(root, "push", "-q", "-u", "origin", "main")
    return root, counts


def count_requests(base: Path) -> dict[str, tuple[int, int, str]]:
    """{what: (counted, expected, "==" or "<=")} for one publish of POSTS posts."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fakes.mastodon_server import MastodonServer
    from tests.fakes.running import MASTODON_TOKEN, X_KEYS, serving
    from tests.fakes.x_server import XServer

    root, images = write_site(base)
    with serving(MastodonServer(token=MASTODON_TOKEN)) as mastodon, \
            serving(XServer(**X_KEYS)) as x:
        env = git_env(base / "home")
        env.update(MASTODON_BASE_URL=mastodon.base_url, MASTODON_ACCESS_TOKEN=MASTODON_TOKEN,
                   X_API_BASE_URL=x.base_url, X_API_KEY=X_KEYS["consumer_key"],
                   X_API_SECRET=X_KEYS["consumer_secret"], X_ACCESS_TOKEN=X_KEYS["access_token"],
                   X_ACCESS_TOKEN_SECRET=X_KEYS["access_token_secret"])
        proc = subprocess.run([sys.executable, "-m", "publisher", "publish", "--now", NOW_ARG],
                              cwd=root, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not proc.stdout.rstrip().endswith(
                f"published {2 * POSTS}, already published 0, not due 0, failed 0"):
            raise RuntimeError(f"publish of {POSTS} posts failed:\n{proc.stdout}{proc.stderr}")
        m = Counter((method, _shape(path)) for method, path, _ in mastodon.requests)
        t = Counter((method, _shape(path)) for method, path, _ in x.requests)
    total = sum(images)
    instance = m["GET", "/api/v2/instance"] + m["GET", "/api/v1/instance"]
    return {
        # everything Mastodon was asked, against 1 status + 1 upload per image
        "mastodon requests": (sum(m.values()) - instance, POSTS + total, "=="),
        "mastodon media polls": (m["GET", "/api/v1/media/:id"], 0, "=="),
        "mastodon instance": (instance, 1, "<="),
        # everything X was asked, against 1 post + upload and alt text per image
        "x requests": (sum(t.values()), POSTS + 2 * total, "=="),
    }


def _shape(path: str) -> str:
    path = path.rstrip("/")  # Mastodon.py asks for `/api/v2/instance/`
    if path.startswith("/api/v1/media/"):
        return "/api/v1/media/:id"
    return path

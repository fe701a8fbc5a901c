"""Secrets never leak (../shared/cases SEC-01): sentinel credential values go through every
command, including the failing paths of the case (a token with a trailing line break, a
token in a git remote URL, a server quoting what it received), and must appear nowhere:
not in stdout or stderr of the process, the job summary, the published log, a commit, or
`.git/config`, which the publisher never changes."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from publisher.config import Account, Credentials, Secret
from publisher.gitsync import scrub
from tests.conftest import DATA, Site, git, run_process
from tests.fakes.fixtures import serving
from tests.fakes.http import Fault
from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.x_server import XServer

SCENARIO = (DATA / "sec01_scenario.txt").read_text(encoding="utf-8")
# The case's own sentinels, then one per remaining credential.
MASTODON_NEWLINE = "SENTINEL-mastodon-7f3a"
GH_TOKEN = "SENTINEL-gh-51c2"
MASTODON_OK = "SENTINEL-mastodon-ok-93e1"
MASTODON_BAD = "SENTINEL-mastodon-bad-41d0"
X_KEY = "SENTINEL-x-key-0a11"
X_SECRET = "SENTINEL-x-secret-0a12"
X_TOKEN = "1600000000000000001-SENTINEL-x-at-0a13"
X_TOKEN_SECRET = "SENTINEL-x-ats-0a14"
X_BAD = "SENTINEL-x-bad-77e2"
GH_BASIC = "SENTINEL-gh-basic-c0de"
SENTINELS = (MASTODON_NEWLINE, GH_TOKEN, MASTODON_OK, MASTODON_BAD, X_KEY, X_SECRET,
             X_TOKEN, X_TOKEN_SECRET, X_BAD, GH_BASIC)
NOW = "2026-12-05T08:30:00Z"


def test_the_sentinels_are_the_case_ones() -> None:
    assert f'"{MASTODON_NEWLINE}\\n"' in SCENARIO
    assert f"https://x-access-token:{GH_TOKEN}@github.com/" in SCENARIO


def forms(secret: str) -> list[str]:
    """The secret and the transformed forms log masking misses (SEC-01: base64)."""
    return [secret, base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"x-access-token:{secret}".encode()).decode()]


def leaks(text: str) -> list[str]:
    return [s for s in SENTINELS for form in forms(s) if form in text]


@dataclass
class Deployment:
    """A site with its bare origin, sentinel-keyed servers, and a record of every run."""

    site: Site
    mastodon: MastodonServer
    x: XServer
    summary: Path
    outputs: list[str] = field(default_factory=list)
    git_config: bytes = b""

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "MASTODON_BASE_URL": self.mastodon.base_url,
            "MASTODON_ACCESS_TOKEN": MASTODON_OK,
            "X_API_BASE_URL": self.x.base_url,
            "X_API_KEY": X_KEY,
            "X_API_SECRET": X_SECRET,
            "X_ACCESS_TOKEN": X_TOKEN,
            "X_ACCESS_TOKEN_SECRET": X_TOKEN_SECRET,
            # Inside Actions, so the job summary is written too.
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "schedule",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_EVENT_PATH": str(DATA / "actions" / "schedule.json"),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        env.update(overrides)
        return env

    def run(self, *argv: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        config = self.config_path.read_bytes()
        result = run_process(*argv, env=self.env(**overrides), cwd=self.site.root)
        self.outputs.append(f"$ publisher {' '.join(argv)}\n{result.stdout}{result.stderr}")
        assert not leaks(result.stdout), (argv, result.stdout)
        assert not leaks(result.stderr), (argv, result.stderr)
        assert self.config_path.read_bytes() == config, ".git/config changed"
        return result

    @property
    def config_path(self) -> Path:
        return self.site.root / ".git" / "config"


@pytest.fixture
def deployment(site: Site, tmp_path: Path) -> Iterator[Deployment]:
    x_keys = dict(consumer_key=X_KEY, consumer_secret=X_SECRET, access_token=X_TOKEN,
                  access_token_secret=X_TOKEN_SECRET)
    # No retries: the failing paths are the point here, not how long they take.
    site.write("publisher.toml", site.config + "retries = 0\n")
    site.commit_all("config")
    with serving(MastodonServer(token=MASTODON_OK)) as mastodon, serving(XServer(**x_keys)) as x:
        yield Deployment(site, mastodon, x, tmp_path / "summary.md")


def post(site: Site, name: str, date: str = "2026-12-05 09:00") -> None:
    site.write(f"posts/{name}.md", f"---\ndate: {date}\n---\nPost {name}.\n")


def assert_nothing_leaked_anywhere(d: Deployment) -> None:
    """The published log, every commit (message and content) in the clone and the origin,
    and the job summary hold no sentinel; `.git/config` holds only what the test put there."""
    places = {
        "job summary": d.summary.read_text(encoding="utf-8") if d.summary.exists() else "",
        "published.jsonl": (d.site.root / "published.jsonl").read_text(encoding="utf-8")
        if (d.site.root / "published.jsonl").exists() else "",
        "clone history": git(d.site.root, "log", "--all", "-p", "--format=%H%n%an%n%B"),
        "origin history": git(d.site.origin, "log", "--all", "-p", "--format=%H%n%an%n%B"),
    }
    for name, text in places.items():
        assert not leaks(text), (name, leaks(text))


# --- the sentinel run: every command, the failing paths included -------------------------------


def test_no_sentinel_leaks_from_any_command_or_failure(deployment: Deployment) -> None:
    d = deployment
    site = d.site
    for name in ("a", "b", "c", "d", "e"):
        post(site, name)
    post(site, "later", "2026-12-24 09:00")
    site.commit_all()
    # What actions/checkout leaves in .git/config for the push: an extraheader with the token.
    basic = base64.b64encode(f"x-access-token:{GH_BASIC}".encode()).decode()
    git(site.root, "config", "--local", "http.https://github.com/.extraheader",
        f"AUTHORIZATION: basic {basic}")

    # 1. SEC-01 path 1: a token pasted with a trailing line break is refused, unquoted.
    first = d.run("publish", "--now", NOW, MASTODON_ACCESS_TOKEN=f"{MASTODON_NEWLINE}\n")
    assert first.returncode == 1
    assert ("error: MASTODON_ACCESS_TOKEN contains whitespace, a line break or a control "
            "character; set it again without them (the value is not shown); its posts stay "
            "pending") in first.stdout.splitlines()
    assert d.mastodon.count("POST") == 0
    assert len(d.x.tweets) == 5  # X went ahead

    # 2. Wrong tokens: both servers answer 401.
    post(site, "f")
    site.commit_all()
    bad = d.run("publish", "--now", NOW, MASTODON_ACCESS_TOKEN=MASTODON_BAD,
                X_ACCESS_TOKEN_SECRET=X_BAD)
    assert bad.returncode == 1
    assert "failed posts/a.md -> mastodon: The access token is invalid" in bad.stdout
    assert "failed posts/f.md -> x: Unauthorized" in bad.stdout

    # 3. Server errors, one of them quoting the request's Authorization header back.
    d.mastodon.inject(Fault("POST", r"^/api/v1/statuses$", status=422, body={
        "error": f"Validation failed: header Authorization: Bearer {MASTODON_OK} refused"}))
    d.mastodon.inject(Fault("POST", r"^/api/v1/statuses$", status=500, times=20))
    d.x.inject(Fault("POST", r"^/2/tweets$", status=503, times=20))
    errors = d.run("publish", "--now", NOW)
    assert errors.returncode == 1
    d.mastodon.faults.clear()
    d.x.faults.clear()
    assert "failed posts/a.md -> mastodon: Validation failed: header Authorization: Bearer " \
           "******** refused" in errors.stdout

    # 4. SEC-01 path 2: a remote URL carrying a token, and git failing on it (fetch first,
    # then a push URL of its own: the preflight push fails before anything is posted).
    post(site, "g")
    site.commit_all()
    origin = git(site.root, "remote", "get-url", "origin").strip()
    git(site.root, "remote", "set-url", "origin",
        f"https://x-access-token:{GH_TOKEN}@127.0.0.1:1/example-org/site.git")
    fetch = d.run("publish", "--now", NOW)
    assert fetch.returncode == 1
    assert "error: git fetch failed: " in fetch.stdout
    assert "127.0.0.1:1/example-org/site.git" in fetch.stdout
    git(site.root, "remote", "set-url", "origin", origin)
    git(site.root, "remote", "set-url", "--push", "origin",
        f"https://x-access-token:{GH_TOKEN}@127.0.0.1:1/example-org/site.git")
    posts_before = d.mastodon.count("POST", "/api/v1/statuses") + d.x.count("POST", "/2/tweets")
    push = d.run("publish", "--now", NOW)
    assert push.returncode == 1
    assert "nothing was posted" in push.stdout
    assert d.mastodon.count("POST", "/api/v1/statuses") + d.x.count(
        "POST", "/2/tweets") == posts_before
    git(site.root, "config", "--unset", "remote.origin.pushurl")

    # 5. Every other command, with every sentinel in the environment.
    for argv in (["publish", "--dry-run", "--now", NOW], ["check"],
                 ["plan"], ["plan", "--format", "json"], ["plan", "--format", "markdown"],
                 ["plan", "--format", "ics"], ["resolve", "posts/a.md", "--platform", "x",
                                               "--as", "retry"], ["--version"]):
        d.run(*argv)
    # A failing one: an unknown platform.
    assert d.run("resolve", "posts/a.md", "--platform", "myspace", "--as",
                 "retry").returncode == 2

    # 6. Finally a run that works, pushing with what the checkout configured.
    done = d.run("publish", "--now", NOW)
    # The posts left uncertain above keep the exit code at 1 until a person resolves them.
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[-1].endswith(", failed 0, uncertain 6"), done.stdout
    assert "published posts/g.md -> mastodon: https://social.example/@publisher/" in done.stdout

    assert_nothing_leaked_anywhere(d)
    remote_urls = git(site.root, "config", "--get-regexp", r"^remote\.").strip()
    assert remote_urls.splitlines() == [f"remote.origin.url {origin}",
                                        "remote.origin.fetch +refs/heads/*:refs/remotes/"
                                        "origin/*"]


def test_a_credentials_file_holding_sentinels_is_never_quoted(
        deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    post(d.site, "a")
    d.site.commit_all()
    creds = tmp_path / "credentials"
    creds.write_text(f"MASTODON_ACCESS_TOKEN={MASTODON_OK}\nX_API_KEY {X_KEY}\n")
    creds.chmod(0o600)
    no_env = {name: "" for name in ("MASTODON_ACCESS_TOKEN", "X_API_KEY")}

    malformed = d.run("publish", "--now", NOW, "--credentials", str(creds), **no_env)
    assert malformed.stdout.splitlines() == [
        f"error: {creds}:2: expected NAME=value (the value is not shown)"]
    creds.write_text(f"MASTODON_ACCESS_TOKEN={MASTODON_OK}\nX_API_KEY={X_KEY}\n")
    creds.chmod(0o644)
    readable = d.run("publish", "--now", NOW, "--credentials", str(creds), **no_env)
    assert readable.returncode == 2
    assert "chmod 600" in readable.stdout
    assert d.mastodon.count() == 0 and d.x.count() == 0
    assert_nothing_leaked_anywhere(d)


# --- the pieces ---------------------------------------------------------------------------------


def test_secret_repr_and_str_are_masked_also_inside_credentials() -> None:
    secret = Secret(X_TOKEN)
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('********')"
    assert secret.reveal() == X_TOKEN
    account = Account("x", "x", {"access_token": "X_ACCESS_TOKEN"})
    credentials = Credentials(account, {"access_token": secret})
    assert X_TOKEN not in repr(credentials)
    assert X_TOKEN not in str([credentials, {"token": secret}])


def test_mastodon_client_debugging_is_off(deployment: Deployment) -> None:
    # Mastodon.py's debug_requests prints every request's headers, the token included.
    from publisher.config import load_settings
    from publisher.platforms.base import default_limits
    from publisher.platforms.mastodon import MastodonPlatform

    account = load_settings(deployment.site.root).account("mastodon")
    credentials = Credentials(account, {"base_url": Secret(deployment.mastodon.base_url),
                                        "access_token": Secret(MASTODON_OK)})
    platform = MastodonPlatform(credentials, timeout=5, media_timeout=5,
                                fallback=default_limits("mastodon"))
    assert platform._api.debug_requests is False


@pytest.mark.parametrize(("text", "expected"), [
    (f"fatal: unable to access 'https://x-access-token:{GH_TOKEN}@github.com/o/site.git/'",
     "fatal: unable to access 'https://***@github.com/o/site.git/'"),
    (f"To https://{GH_TOKEN}@github.com/o/site.git", "To https://***@github.com/o/site.git"),
    (f"git -c http.extraHeader=AUTHORIZATION: basic {GH_BASIC} push",
     "git -c http.extraHeader=*** push"),
    (f"http.https://github.com/.extraheader=AUTHORIZATION: basic {GH_BASIC}",
     "http.https://github.com/.extraheader=***"),
    (f"Authorization: Bearer {MASTODON_OK}", "Authorization: Bearer ***"),
    ("https://github.com/o/site.git", "https://github.com/o/site.git"),
])
def test_git_error_text_is_scrubbed(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_the_published_log_keeps_no_exception_text(deployment: Deployment) -> None:
    # The log keeps a short reason and a status; the server's echo of the token is masked
    # on the way in.
    d = deployment
    post(d.site, "a")
    d.site.commit_all()
    d.mastodon.inject(Fault("POST", r"^/api/v1/statuses$", status=422, body={
        "error": f"Validation failed: Bearer {MASTODON_OK}"}))
    d.run("publish", "--now", NOW)
    records = [json.loads(line) for line in d.site.origin_log().splitlines()
               if line.startswith("{")]
    failed = [r for r in records if r["event"] == "failed"]
    assert [r["reason"] for r in failed] == ["Validation failed: Bearer ********"]
    assert_nothing_leaked_anywhere(d)

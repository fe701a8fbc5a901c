"""The credentials file (owner-only, dotenv-style, the environment wins) and the cron way of
running: the README's crontab line, run by /bin/sh with cron's bare environment, no terminal,
credentials from the default file only."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config import CredentialStore, read_credentials_file
from publisher.errors import ConfigError
from tests.conftest import ROOT, RunCli, Site, credentials_env, git, run_process
from tests.fakes.fixtures import MASTODON_TOKEN, X_KEYS

BIN = Path(sys.executable).parent
SENTINEL = "SENTINEL-cred-5e1b"


def write_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def file_for(mastodon: object, x: object) -> str:
    """A credentials file's text pointing at the loopback servers."""
    env = credentials_env(mastodon, x)
    return "".join(f"{name}={value}\n" for name, value in env.items())


# --- permissions and ownership ----------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o700 | 0o004])
def test_a_file_others_may_read_or_write_is_refused_with_the_chmod_to_run(
        tmp_path: Path, mode: int) -> None:
    path = write_file(tmp_path / "credentials", f"MASTODON_ACCESS_TOKEN={SENTINEL}\n", mode)
    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path)
    assert str(caught.value) == (
        f"{path}: readable or writable by others; run `chmod 600 {path}` and try again")


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_an_owner_only_file_is_read(tmp_path: Path, mode: int) -> None:
    path = write_file(tmp_path / "credentials", f"MASTODON_ACCESS_TOKEN={SENTINEL}\n", mode)
    assert read_credentials_file(path) == {"MASTODON_ACCESS_TOKEN": SENTINEL}


def test_a_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("giving a file to another user needs root (the CI container runs as root)")
    path = write_file(tmp_path / "credentials", f"MASTODON_ACCESS_TOKEN={SENTINEL}\n")
    os.chown(path, 65534, 65534)  # nobody
    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path)
    assert str(caught.value) == (
        f"{path}: not owned by the user running publisher; "
        f"run `chown $(id -un) {path} && chmod 600 {path}`")


def test_the_cli_refuses_a_readable_file_before_anything_is_sent(
        site: Site, mastodon_server, x_server, run_cli: RunCli, tmp_path: Path) -> None:
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\n---\nHello.\n")
    site.commit_all()
    path = write_file(tmp_path / "credentials", file_for(mastodon_server, x_server), 0o644)

    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", "--credentials", str(path),
                     cwd=site.root)

    assert result.code == 2
    assert result.lines == [f"error: {path}: readable or writable by others; run "
                            f"`chmod 600 {path}` and try again"]
    assert mastodon_server.count() == 0 and x_server.count() == 0
    assert site.origin_log() == ""


# --- format -----------------------------------------------------------------------------------


def test_dotenv_lines_export_quotes_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write_file(tmp_path / "credentials", """\
# publisher credentials
MASTODON_BASE_URL=https://social.example

export MASTODON_ACCESS_TOKEN="tok-double"
X_API_KEY='key-single'
  X_API_SECRET = secret-spaced-around
X_ACCESS_TOKEN=with=equals=inside
X_ACCESS_TOKEN_SECRET="#not-a-comment"
""")
    assert read_credentials_file(path) == {
        "MASTODON_BASE_URL": "https://social.example",
        "MASTODON_ACCESS_TOKEN": "tok-double",
        "X_API_KEY": "key-single",
        "X_API_SECRET": "secret-spaced-around",
        "X_ACCESS_TOKEN": "with=equals=inside",
        "X_ACCESS_TOKEN_SECRET": "#not-a-comment",
    }


@pytest.mark.parametrize(("line", "number"), [
    (f"{SENTINEL}", 3),                           # the token pasted without a name
    (f"MASTODON_ACCESS_TOKEN {SENTINEL}", 3),     # no `=`
    (f"MASTODON ACCESS TOKEN={SENTINEL}", 3),     # a name with spaces
    (f"1TOKEN={SENTINEL}", 3),                    # a name starting with a digit
    (f"export ={SENTINEL}", 3),                   # no name at all
])
def test_a_malformed_line_is_named_by_number_never_by_value(
        tmp_path: Path, line: str, number: int) -> None:
    path = write_file(tmp_path / "credentials",
                      f"# comment\nMASTODON_BASE_URL=https://social.example\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path)
    assert str(caught.value) == f"{path}:{number}: expected NAME=value (the value is not shown)"
    assert SENTINEL not in str(caught.value)


def test_a_malformed_line_through_the_cli_shows_no_value(
        site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\n---\nHello.\n")
    site.commit_all()
    path = write_file(tmp_path / "credentials", f"MASTODON_ACCESS_TOKEN {SENTINEL}\n")
    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", "--credentials", str(path),
                     cwd=site.root)
    assert result.code == 2
    assert result.lines == [f"error: {path}:1: expected NAME=value (the value is not shown)"]


# --- where the file is, and precedence --------------------------------------------------------


def test_environment_wins_over_the_file_and_an_empty_variable_does_not(tmp_path: Path) -> None:
    path = write_file(tmp_path / "credentials",
                      "MASTODON_ACCESS_TOKEN=from-file\nX_API_KEY=key-from-file\n"
                      "X_API_SECRET=secret-from-file\n")
    store = CredentialStore.load({"MASTODON_ACCESS_TOKEN": "from-env", "X_API_KEY": ""},
                                 str(path))
    assert store.lookup("MASTODON_ACCESS_TOKEN") == "from-env"
    assert store.lookup("X_API_KEY") == "key-from-file"  # set but empty: the file's value
    assert store.lookup("X_API_SECRET") == "secret-from-file"
    assert store.lookup("X_ACCESS_TOKEN") is None


def test_the_file_is_found_by_option_then_variable_then_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    write_file(home / ".config" / "publisher" / "credentials", "X_API_KEY=default\n")
    by_variable = write_file(tmp_path / "by-variable", "X_API_KEY=variable\n")
    by_option = write_file(tmp_path / "by-option", "X_API_KEY=option\n")
    monkeypatch.setenv("HOME", str(home))  # `~` is the process's HOME

    assert CredentialStore.load({}, None).lookup("X_API_KEY") == "default"
    with_variable = {"PUBLISHER_CREDENTIALS": str(by_variable)}
    assert CredentialStore.load(with_variable, None).lookup("X_API_KEY") == "variable"
    assert CredentialStore.load(with_variable, str(by_option)).lookup("X_API_KEY") == "option"


def test_a_missing_explicit_file_is_an_error_a_missing_default_is_not(
        tmp_path: Path, run_cli: RunCli, site: Site) -> None:
    missing = tmp_path / "nope" / "credentials"
    with pytest.raises(ConfigError) as caught:
        CredentialStore.load({}, str(missing))
    assert str(caught.value) == f"{missing}: credentials file not found"
    with pytest.raises(ConfigError):
        CredentialStore.load({"PUBLISHER_CREDENTIALS": str(missing)}, None)
    assert CredentialStore.load({}, None).lookup("X_API_KEY") is None  # HOME has no file

    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\n---\nHello.\n")
    site.commit_all()
    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", "--credentials",
                     str(missing), cwd=site.root)
    assert result.code == 2
    assert result.lines == [f"error: {missing}: credentials file not found"]


def test_a_value_with_a_line_break_is_refused_without_showing_it(tmp_path: Path) -> None:
    from publisher.config import load_settings

    settings = load_settings(tmp_path)
    store = CredentialStore({"MASTODON_BASE_URL": "https://social.example",
                             "MASTODON_ACCESS_TOKEN": f"{SENTINEL}\n"}, {})
    with pytest.raises(ConfigError) as caught:
        store.for_account(settings.account("mastodon"))
    assert str(caught.value) == (
        "MASTODON_ACCESS_TOKEN contains whitespace, a line break or a control character; "
        "set it again without them (the value is not shown)")


# --- a real publish with credentials from the file, run as a separate process -----------------


def test_publish_with_credentials_only_from_the_file(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\n---\nFrom the file.\n")
    site.commit_all()
    path = write_file(tmp_path / "credentials",
                      "\n".join(f"export {line}" for line in
                                file_for(mastodon_server, x_server).splitlines()) + "\n")

    result = run_process("publish", "--now", "2026-12-05T08:30:00Z", "--credentials",
                         str(path), env={}, cwd=site.root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert [s["text"] for s in mastodon_server.statuses] == ["From the file."]
    assert [t["text"] for t in x_server.tweets] == ["From the file."]
    assert result.stdout.splitlines()[-1] == (
        "published 2, already published 0, not due 0, failed 0")
    assert "\x1b" not in result.stdout + result.stderr and "\r" not in result.stderr
    for secret in (MASTODON_TOKEN, *X_KEYS.values()):
        assert secret not in result.stdout + result.stderr + site.origin_log()


# --- cron: the README's line, verbatim --------------------------------------------------------


def readme_crontab_line() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```crontab\n(.*?)```", readme, re.DOTALL)
    [line] = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return line


def test_the_readme_crontab_line_publishes_with_plain_output_in_the_log(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    line = readme_crontab_line()
    fields = line.split(None, 5)
    assert fields[:5] == ["7,22,37,52", "*", "*", "*", "*"]
    command = fields[5]
    assert "%" not in command  # cron would turn an unescaped % into a line break
    # The README's layout: HOME holds the posts clone `site` (the fixture's clone is
    # tmp_path/site), the publisher's venv, the credentials file and the log.
    home = tmp_path
    assert site.root == home / "site"
    venv_bin = home / "publisher" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "publisher").symlink_to(BIN / "publisher")
    credentials = home / ".config" / "publisher" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.parent.chmod(0o700)
    old_umask = os.umask(0o077)  # as the README's `install -m 600` leaves it
    try:
        credentials.write_text(file_for(mastodon_server, x_server), encoding="utf-8")
    finally:
        os.umask(old_umask)
    assert credentials.stat().st_mode & 0o777 == 0o600

    real_now = datetime.now(UTC).replace(microsecond=0)
    site.write("posts/one.md", f"---\ndate: {real_now - timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}"
                               "\nplatforms: [mastodon]\n---\nFrom cron.\n")
    site.commit_all()
    # Someone pushes another due post after this clone was last pulled: the run pulls first.
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(site.origin), str(other)], check=True)
    (other / "posts" / "two.md").write_text(
        f"---\ndate: {real_now - timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}\n"
        "platforms: [mastodon]\n---\nPushed from elsewhere.\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "another post")
    git(other, "push", "-q")

    # cron's environment: HOME, LOGNAME, SHELL, a short PATH; no terminal, no credentials.
    cron_env = {"HOME": str(home), "LOGNAME": "root", "SHELL": "/bin/sh",
                "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        run = subprocess.run(["/bin/sh", "-c", command], env=cron_env, cwd="/",
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run

    log = (home / "publisher.log").read_text(encoding="utf-8")
    assert sorted(s["text"] for s in mastodon_server.statuses) == [
        "From cron.", "Pushed from elsewhere."]
    assert "\x1b" not in log and "\r" not in log
    lines = log.splitlines()
    stamps = [n for n, text in enumerate(lines) if re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)]
    assert len(stamps) == 2 and stamps[0] == 0
    first_run, second_run = lines[: stamps[1]], lines[stamps[1]:]
    assert "pulled new commits from the remote before reading posts" in first_run
    assert first_run[-1] == "published 2, already published 0, not due 0, failed 0"
    assert second_run[-1] == "published 0, already published 2, not due 0, failed 0"
    assert MASTODON_TOKEN not in log
    assert '"event": "published"' in site.origin_log()


def test_progress_shows_on_a_terminal_and_nowhere_else(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    image = ROOT / "posts" / "images" / "launch.png"
    for name in ("one", "two"):
        site.copy(image, f"posts/images/{name}.png")
        site.write(f"posts/{name}.md", f"---\ndate: 2026-12-05 09:00\nmedia:\n"
                                       f"  - path: images/{name}.png\n    alt: A rocket\n"
                                       f"---\nPost {name}.\n")
    site.commit_all()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(credentials_env(mastodon_server, x_server))
    primary, secondary = pty.openpty()
    try:
        run = subprocess.run([sys.executable, "-m", "publisher", "publish", "--now",
                              "2026-12-05T08:30:00Z"], cwd=site.root, env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=secondary, timeout=120)
        os.close(secondary)
        terminal = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(primary)

    assert run.returncode == 0
    shown = terminal.decode()
    assert shown == "".join(
        f"\r\x1b[Kpublishing {n}/4: posts/{post}.md -> {account} (1 image(s))"
        for n, (post, account) in enumerate(
            [("one", "mastodon"), ("one", "x"), ("two", "mastodon"), ("two", "x")], 1)
    ) + "\r\x1b[K"
    # stdout is a pipe here, as under cron: plain lines only.
    assert b"\x1b" not in run.stdout and b"\r" not in run.stdout
    assert run.stdout.decode().splitlines()[-1] == (
        "published 4, already published 0, not due 0, failed 0")

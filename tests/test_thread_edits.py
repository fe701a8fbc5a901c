"""A thread edited between a partial failure and the next run, `resolve` on threads, and
commands run from a subfolder: the real CLI and Mastodon.py over HTTP to the loopback server,
a real repository with a bare origin. Each part must reach the server exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunCli, Site
from tests.fakes.http import Fault
from tests.fakes.mastodon_server import MastodonServer
from tests.test_threads import NOW, STATUSES, chain, linear, publish, texts, thread_post


def posted(server: MastodonServer) -> list[tuple[str, int | None]]:
    return chain(server.statuses, "in_reply_to_id")


def log_lines(site: Site) -> list[dict[str, Any]]:
    path = site.root / "published.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("edited", [2, 0], ids=["unsent-part-3", "published-part-1"])
def test_edit_after_a_partial_failure_sends_each_part_once(
        edited: int, site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("posts/story.md", thread_post(4, "[mastodon]"))
    site.commit_all()
    mastodon_server.inject(Fault("POST", STATUSES, skip=2, status=401))

    first = publish(run_cli, site, mastodon_server)

    assert first.code == 1
    assert posted(mastodon_server) == linear(texts(2))
    new = texts(4)
    new[edited] = f"Part {edited + 1}, edited after the failure."
    site.write("posts/story.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n---\n"
               + "\n\n---\n\n".join(new) + "\n")
    site.commit_all("edit")
    check = run_cli("check", "--now", NOW, cwd=site.root)
    assert ("posts/story.md:2: warning: mastodon: parts 1-2 were published before this edit; "
            "a change to them will not go out (parts 3-4 go out as the file has them now)"
            ) in check.lines, check.text

    second = publish(run_cli, site, mastodon_server)
    third = publish(run_cli, site, mastodon_server)

    assert second.code == 0, second.text
    assert third.code == 0, third.text
    assert third.summary.startswith("published 0, already published 1"), third.text
    # Parts 1-2 as first sent, parts 3-4 as the file has them now, one chain, once each.
    assert posted(mastodon_server) == linear(texts(2) + new[2:])
    assert mastodon_server.count("POST", STATUSES.strip("^$")) == 5  # part 3 refused once
    digests = {r["digest"] for r in log_lines(site)}
    assert len(digests) == 1  # the resumed parts are recorded under the thread they continue


def test_thread_refused_partway_is_retried_after_an_edit_and_not_before(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("posts/story.md", thread_post(4, "[mastodon]"))
    site.commit_all()
    mastodon_server.inject(Fault("POST", STATUSES, skip=2, status=422,
                                 body={"error": "Validation failed: Text is spam"}))

    first = publish(run_cli, site, mastodon_server)
    unedited = publish(run_cli, site, mastodon_server)

    assert (first.code, unedited.code) == (1, 0)  # reported once, then listed
    assert "refused earlier (edit the post to retry): posts/story.md -> mastodon: " \
           "Validation failed: Text is spam" in unedited.text
    assert posted(mastodon_server) == linear(texts(2))

    def edit(text: str) -> None:
        parts = [*texts(2), text, "Part 4 of the launch story."]
        site.write("posts/story.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n"
                   "---\n" + "\n\n---\n\n".join(parts) + "\n")
        site.commit_all("edit")

    # Refused again after an edit: reported once, not retried every run.
    edit("Part 3, still spam.")
    mastodon_server.inject(Fault("POST", STATUSES, status=422,
                                 body={"error": "Validation failed: Text is spam"}))
    again = publish(run_cli, site, mastodon_server)
    assert again.code == 1 and "failed posts/story.md -> mastodon: Validation failed" in again.text
    quiet = publish(run_cli, site, mastodon_server)
    assert "refused earlier (edit the post to retry)" in quiet.text
    assert mastodon_server.count("POST", STATUSES.strip("^$")) == 4

    edit("Part 3, rewritten.")
    fixed = publish(run_cli, site, mastodon_server)
    settled = publish(run_cli, site, mastodon_server)

    assert fixed.code == 0, fixed.text
    assert settled.summary.startswith("published 0, already published 1"), settled.text
    assert posted(mastodon_server) == linear(
        [*texts(2), "Part 3, rewritten.", "Part 4 of the launch story."])


def _uncertain_part_2(site: Site, server: MastodonServer, run_cli: RunCli) -> None:
    """A 4-part thread whose part 2 may or may not have gone out (the answers never come)."""
    site.write("posts/story.md", thread_post(4, "[mastodon]"))
    site.commit_all()
    server.inject(Fault("POST", STATUSES, skip=1, drop=True, times=20))
    result = publish(run_cli, site, server)
    assert "UNCERTAIN posts/story.md -> mastodon" in result.text, result.text
    server.faults.clear()


def test_resolve_published_marks_only_the_uncertain_part_and_the_thread_resumes(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    _uncertain_part_2(site, mastodon_server, run_cli)
    assert posted(mastodon_server) == linear(texts(1))

    resolved = run_cli("resolve", "posts/story.md", "--platform", "mastodon", "--as",
                       "published", cwd=site.root)

    assert resolved.code == 0, resolved.text
    manual = [r["part"] for r in log_lines(site) if r.get("kind") == "manual"]
    assert manual == [1]
    after = publish(run_cli, site, mastodon_server)
    assert after.code == 0, after.text
    # Parts 3 and 4 go out; part 2 is the person's word (its id is unknown, so part 3
    # cannot reply to it).
    assert [s["text"] for s in mastodon_server.statuses] == [
        texts(4)[0], texts(4)[2], texts(4)[3]]
    assert publish(run_cli, site, mastodon_server).summary.startswith(
        "published 0, already published 1")


def test_resolve_refuses_when_nothing_is_undecided(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n---\nHello\n")
    site.commit_all()
    mastodon_server.inject(Fault("POST", STATUSES, status=401))
    assert publish(run_cli, site, mastodon_server).code == 1
    before = (site.root / "published.jsonl").read_text()

    # A 401 means nothing was sent: there is nothing for a person to decide.
    refused = run_cli("resolve", "posts/a.md", "--platform", "mastodon", "--as", "published",
                      cwd=site.root)

    assert refused.code == 2
    assert refused.lines == [
        "error: posts/a.md -> mastodon: nothing to decide: no part is uncertain or left open "
        "by an interrupted run (see published.jsonl)"]
    assert (site.root / "published.jsonl").read_text() == before
    # Fully published later, with the old failure still in the log: still nothing to decide.
    assert publish(run_cli, site, mastodon_server).code == 0
    published = (site.root / "published.jsonl").read_text()
    again = run_cli("resolve", "posts/a.md", "--platform", "mastodon", "--as", "published",
                    cwd=site.root)
    assert again.code == 2
    assert (site.root / "published.jsonl").read_text() == published
    assert [(r["part"], r.get("remote_id") is not None) for r in log_lines(site)
            if r["event"] == "published"] == [(0, True)]


def test_resolve_and_publish_from_a_subfolder_use_the_repository_root(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _uncertain_part_2(site, mastodon_server, run_cli)
    monkeypatch.chdir(site.root / "posts")

    resolved = run_cli("resolve", "story.md", "--platform", "mastodon", "--as", "published")

    assert resolved.code == 0, resolved.text
    assert not (site.root / "posts" / "published.jsonl").exists()
    assert [r["part"] for r in log_lines(site) if r.get("kind") == "manual"] == [1]
    dry = run_cli("publish", "--dry-run", "--now", "2026-12-05T08:30:00Z")
    assert dry.code == 0, dry.text
    assert "dry run: would publish 1," in dry.summary

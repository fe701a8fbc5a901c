"""After an unanswered attempt publisher asks the account "did it go out?" before sending
again. Found by a tester: the answer must come from a post made for this attempt (same text,
same parent, not one the log already holds), and without an answer nothing is re-sent where
the server would not refuse a duplicate by itself."""

from __future__ import annotations

from tests.conftest import RunCli, Site, credentials_env
from tests.fakes.http import Fault

REMINDER = "Reminder: office hours today at 5pm."


def test_an_older_post_with_the_same_text_is_not_taken_for_the_lost_attempt(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    site.write("posts/a.md", f"---\ndate: 2026-12-04 09:00\nplatforms: [mastodon]\n---\n"
               f"{REMINDER}\n")
    site.write("posts/b.md", f"---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n---\n"
               f"{REMINDER}\n\n---\n\nThis week: the new release.\n")
    site.commit_all()
    env = credentials_env(mastodon_server)
    assert run_cli("publish", "--now", "2026-12-04T08:30:00Z", env=env, cwd=site.root).code == 0
    [older] = mastodon_server.statuses
    mastodon_server.inject(Fault("POST", r"^/api/v1/statuses$", status=503))

    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)

    assert result.code == 0, result.text
    texts = [(s["text"], s["in_reply_to_id"]) for s in mastodon_server.statuses]
    part1 = mastodon_server.statuses[1]
    assert texts == [(REMINDER, None), (REMINDER, None),
                     ("This week: the new release.", part1["id"])]
    assert part1["id"] != older["id"]


def test_a_server_ignoring_idempotency_keys_never_gets_a_blind_resend(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    mastodon_server.takahe = True
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n---\n"
               "Part one.\n\n---\n\nPart two.\n")
    site.commit_all()
    mastodon_server.inject(Fault("POST", r"^/api/v1/statuses$", skip=1, when="after",
                                 status=500))
    mastodon_server.inject(Fault("GET", r"^/api/v1/accounts/", status=500, times=3))

    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z",
                     env=credentials_env(mastodon_server), cwd=site.root)

    assert result.code == 1
    assert [s["text"] for s in mastodon_server.statuses] == ["Part one.", "Part two."]
    assert any(line.startswith("UNCERTAIN posts/a.md -> mastodon: server error 500 after "
                               "sending, and checking the account failed too")
               for line in result.lines)


def test_x_thread_stops_when_a_part_went_out_but_its_id_is_unknown(
        site: Site, x_server, run_cli: RunCli) -> None:
    site.write("posts/t.md", "---\ndate: 2026-12-05 09:00\nplatforms: [x]\n---\n"
               "One.\n\n---\n\nTwo.\n\n---\n\nThree.\n")
    site.commit_all()
    x_server.inject(Fault("POST", r"^/2/tweets$", skip=1, when="after", status=500))
    x_server.inject(Fault("GET", r"^/2/users/", status=500, times=10))

    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z",
                     env=credentials_env(None, x_server), cwd=site.root)

    assert result.code == 1
    tweets = [(t["text"], t["in_reply_to_tweet_id"]) for t in x_server.tweets]
    assert tweets == [("One.", None), ("Two.", x_server.tweets[0]["id"])]
    assert any(line.startswith("UNCERTAIN posts/t.md -> x: part 2 went out but its id is "
                               "unknown") for line in result.lines)


def test_a_post_holding_a_credential_value_is_refused_and_never_sent(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    env = credentials_env(mastodon_server, x_server)
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\n---\nMy token is "
               f"{env['MASTODON_ACCESS_TOKEN']} oops.\n")
    site.commit_all()

    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)

    assert result.code == 1
    assert mastodon_server.statuses == [] and x_server.tweets == []
    assert "failed posts/a.md -> mastodon: the post contains the value of a credential; " \
           "remove it from the post (nothing was sent)" in result.lines
    assert env["MASTODON_ACCESS_TOKEN"] not in (site.root / "published.jsonl").read_text()

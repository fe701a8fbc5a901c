"""`publisher check`: one data file per edge case under tests/data/check/, each with the exact
line the command prints (file, line, severity, what to do) and the exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import images
from tests.conftest import DATA, RunCli

CASES = DATA / "check"
NOW = "2026-12-03T12:00:00Z"  # the clock of ../shared/cases
BERLIN = 'timezone = "Europe/Berlin"\n'


def make_site(root: Path, *names: str, config: str = BERLIN) -> Path:
    """A repository with publisher.toml and the named case files under posts/."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "publisher.toml").write_text(config, encoding="utf-8")
    for name in names:
        shutil.copyfile(CASES / name, root / "posts" / name)
    return root


def check(run_cli: RunCli, root: Path, *args: str) -> tuple[int, list[str]]:
    result = run_cli("check", "--now", NOW, *args, cwd=root)
    return result.code, result.lines


# --- one file, one problem -----------------------------------------------------------------

SINGLE = {
    # FM-09
    "fm09_impossible_day.md": [
        "3: error: date '2026-02-30' does not exist (day is out of range for month)"],
    "fm09_hour_24.md": [
        "3: error: date '2026-12-05 24:00:00' does not exist (hour must be in 0..23)"],
    "fm09_duplicate_date.md": [
        "5: error: duplicate key 'date' (first on line 3): keep only one"],
    "fm09_empty_front_matter.md": ["1: error: front matter is empty: add at least `date:`"],
    "fm09_front_matter_only.md": [
        "4: error: mastodon: nothing to post: the text is empty and there are no images",
        "4: error: x: nothing to post: the text is empty and there are no images"],
    "fm09_front_matter_only_no_newline.md": [
        "4: error: mastodon: nothing to post: the text is empty and there are no images",
        "4: error: x: nothing to post: the text is empty and there are no images"],
    # GHA-06: never dated by git history
    "gha06_post_without_date.md": [
        "1: error: no date: add `date: 2026-12-05 09:00` (the post is not scheduled without one)"],
    # front matter shape
    "no_front_matter.md": [
        "1: error: no front matter: start the file with a line '---', then `date:` etc."],
    "unterminated_front_matter.md": [
        "1: error: front matter is not closed: add a line '---' after the last key"],
    "unknown_key_typo.md": [
        "3: error: unknown key 'draf': did you mean 'draft'? Rename it",
        "5: warning: unknown key 'mood' is ignored (list it under extra_keys in publisher.toml "
        "to silence this)"],
    "med02_images_key_instead_of_media.md": [
        "6: error: unknown key 'images' (did you mean 'media'?): images are attached from "
        "`media:`; rename the key"],
    # YAML 1.1 traps
    "yaml_language_no.md": [
        '4: error: language: no was read as false (YAML 1.1), not text; quote it: "no"'],
    "yaml_sexagesimal_content_warning.md": [
        "4: error: content_warning: 10:30 was read as the number 630 (YAML 1.1 base-60); "
        'quote it: "10:30"'],
    "yaml_number_as_text.md": [
        '3: error: x: 2026 was read as a number, not text; quote it: "2026"'],
    "yaml_poll_yes_no.md": [
        '5: error: poll.options.0: Yes was read as true (YAML 1.1), not text; quote it: "Yes"',
        '5: error: poll.options.1: No was read as false (YAML 1.1), not text; quote it: "No"'],
    "yaml_override_table_traps.md": [
        "4: error: mastodon.content_warning: yes was read as true (YAML 1.1), not text; "
        'quote it: "yes"',
        '5: error: mastodon.language: no was read as false (YAML 1.1), not text; quote it: "no"'],
    # dates
    "date_unparseable.md": [
        "2: error: date 'next tuesday' is not understood: write it as 2026-12-05 09:00 "
        "(optionally with an offset such as +01:00 or Z)"],
    "date_dst_gap.md": [
        "2: error: 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks skip it when "
        "summer time starts): choose another time or add an explicit offset"],
    "date_dst_overlap.md": [
        "2: warning: 2026-10-25 02:30 happens twice in Europe/Berlin (the clocks go back): the "
        "first one is used (02:30+0200); add an offset to choose"],
    "date_dst_gap_with_offset.md": [],
    "date_jekyll_offset.md": [],
    # media
    "media_outside_repo.md": [
        "4: error: ../../secret.png: media paths must be relative to the post and stay inside "
        "the repository (no `..`, absolute paths or URLs)"],
    "media_absolute_path.md": [
        "4: error: /etc/passwd: media paths must be relative to the post and stay inside the "
        "repository (no `..`, absolute paths or URLs)"],
    "media_missing_file.md": [
        "4: error: images/nowhere.png: file not found (looked for posts/images/nowhere.png)"],
    # length (TT-03 at check level)
    "tt03_mastodon_498.md": [],
    "tt03_same_text_for_x.md": [
        "8: error: x: text is 483 characters, over the 280 x allows; shorten it, add a "
        "`x: {text: ...}` override, or split it into a thread with a line `---`",
        "8: warning: x: @maintainer@social.example.org is a fediverse handle; map it for X "
        "under [mentions] in publisher.toml"],
    "x_too_long.md": [
        "5: error: x: text is 353 characters, over the 280 x allows; shorten it, add a "
        "`x: {text: ...}` override, or split it into a thread with a line `---`"],
    # FM-07: TOML front matter and the two ways of saying "draft"
    "fm07_toml_hugo_post.md": [],
    "fm07_toml_hugo_draft.md": [],
    "fm07_jekyll_unpublished.md": [],
    "fm09_good_neighbour.md": [],
}


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_check_reports_each_edge_case_on_its_line(name: str, tmp_path: Path,
                                                  run_cli: RunCli) -> None:
    root = make_site(tmp_path, name)
    code, lines = check(run_cli, root)

    expected = [f"posts/{name}:{line}" for line in SINGLE[name]]
    errors = sum(": error: " in line for line in expected)
    warnings = len(expected) - errors
    assert lines == [*expected, f"checked 1 post(s): {errors} error(s), {warnings} warning(s)"]
    assert code == (1 if errors else 0)


def test_symlink_out_of_the_repository_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    outside = images.write(tmp_path / "elsewhere" / "photo.png", images.png())
    root = make_site(tmp_path / "site", "media_symlink_out.md")
    (root / "posts" / "images").mkdir()
    (root / "posts" / "images" / "link.png").symlink_to(outside)

    code, lines = check(run_cli, root)

    assert lines[0] == ("posts/media_symlink_out.md:4: error: images/link.png: resolves outside "
                        "the repository (a symlink?); keep images inside it")
    assert code == 1


def test_file_named_png_that_is_not_an_image(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "media_not_an_image.md")
    (root / "posts" / "images").mkdir()
    (root / "posts" / "images" / "notes.png").write_text("meeting notes\n")

    code, lines = check(run_cli, root)

    assert lines[0] == ("posts/media_not_an_image.md:4: error: images/notes.png: not a PNG, "
                        "JPEG, GIF or WebP image (judged by its bytes)")
    assert code == 1


def test_fm09_every_file_is_reported_and_the_good_neighbour_is_fine(
        tmp_path: Path, run_cli: RunCli) -> None:
    names = [n for n in SINGLE if n.startswith("fm09_")]
    # stale_after is wide enough that the good post, due two days ago, is still posted.
    root = make_site(tmp_path, *names, config=BERLIN + 'stale_after = "7d"\n')

    code, lines = check(run_cli, root)

    assert code == 1
    assert lines[-1] == "checked 7 post(s): 8 error(s), 0 warning(s)"
    assert not any("good_neighbour" in line for line in lines)
    plan = _plan_json(run_cli, root, NOW)
    states = {p["path"]: p["state"] for p in plan["posts"]}
    assert states["posts/fm09_good_neighbour.md"] == "due"
    assert {s for p, s in states.items() if "good" not in p} == {"invalid"}


# --- dates (FM-01, FM-03, FM-04) -------------------------------------------------------------


def _plan_json(run_cli: RunCli, root: Path, now: str) -> dict:  # type: ignore[type-arg]
    result = run_cli("plan", "--format", "json", "--now", now, cwd=root)
    assert result.code == 0, result.text
    return json.loads(result.text)  # type: ignore[no-any-return]


def test_fm01_date_only_is_midnight_in_the_configured_zone(tmp_path: Path,
                                                           run_cli: RunCli) -> None:
    root = make_site(tmp_path, "fm01_date_only.md")

    before = _plan_json(run_cli, root, "2026-12-04T22:59:59Z")["posts"][0]
    at = _plan_json(run_cli, root, "2026-12-04T23:00:00Z")["posts"][0]

    assert before["date"] == "2026-12-04T23:00:00Z"
    assert before["local_date"] == "2026-12-05T00:00:00+01:00"
    assert (before["state"], before["seconds_until"]) == ("scheduled", 1)
    assert (at["state"], at["seconds_until"]) == ("due", 0)
    assert check(run_cli, root)[0] == 0


def test_zone_less_date_without_a_configured_zone_is_an_error(tmp_path: Path,
                                                              run_cli: RunCli) -> None:
    # The issue's contract (stricter than FM-01/FM-04's "UTC and a warning" fallback).
    root = make_site(tmp_path, "fm01_date_only.md", "fm04_local_winter.md", config="")

    code, lines = check(run_cli, root)

    assert code == 1
    assert lines == [
        "posts/fm01_date_only.md:3: error: date 2026-12-05 has no time zone: add an offset "
        '(e.g. 2026-12-05 00:00+01:00) or set timezone = "Area/City" in publisher.toml',
        "posts/fm04_local_winter.md:3: error: date 2026-12-05 09:00:00 has no time zone: add an "
        'offset (e.g. 2026-12-05 09:00+01:00) or set timezone = "Area/City" in publisher.toml',
        "checked 2 post(s): 2 error(s), 0 warning(s)",
    ]


def test_fm03_the_same_instant_written_four_ways(tmp_path: Path, run_cli: RunCli) -> None:
    names = ["fm03_a_unquoted_z.md", "fm03_b_quoted_z.md", "fm03_c_millis_z.md",
             "fm03_d_quoted_offset.md"]
    root = make_site(tmp_path, *names, config='timezone = "Europe/Berlin"\nplatforms = '
                     '["mastodon"]\n')

    plan = _plan_json(run_cli, root, NOW)

    assert {p["path"]: p["date"] for p in plan["posts"]} == {
        f"posts/{n}": "2026-12-05T08:00:00Z" for n in names}


def test_fm04_local_time_uses_the_configured_zone_whatever_tz_says(
        tmp_path: Path, run_cli: RunCli) -> None:
    from tests.conftest import run_process

    root = make_site(tmp_path, "fm04_local_winter.md", "fm04_local_summer.md")
    expected = {"posts/fm04_local_winter.md": "2026-12-05T08:00:00Z",
                "posts/fm04_local_summer.md": "2027-07-05T07:00:00Z"}

    for tz in ("UTC", "America/New_York", "Asia/Tokyo"):
        proc = run_process("plan", "--format", "json", "--now", NOW, env={"TZ": tz}, cwd=root)
        assert proc.returncode == 0, proc.stderr
        plan = json.loads(proc.stdout)
        assert {p["path"]: p["date"] for p in plan["posts"]} == expected, tz


def test_fm07_toml_post_is_scheduled_and_drafts_are_never_due(tmp_path: Path,
                                                              run_cli: RunCli) -> None:
    root = make_site(tmp_path, "fm07_toml_hugo_post.md", "fm07_toml_hugo_draft.md",
                     "fm07_jekyll_unpublished.md")

    plan = _plan_json(run_cli, root, "2026-12-05T08:00:00Z")

    by_path = {p["path"]: p for p in plan["posts"]}
    post = by_path["posts/fm07_toml_hugo_post.md"]
    assert (post["date"], post["state"]) == ("2026-12-05T08:00:00Z", "due")
    mastodon = next(p for p in post["platforms"] if p["account"] == "mastodon")
    assert mastodon["message"]["parts"][0]["text"] == (
        "The recording of my conference talk is online: "
        "https://example.org/posts/talk-recording/")
    assert by_path["posts/fm07_toml_hugo_draft.md"]["state"] == "draft"
    assert by_path["posts/fm07_jekyll_unpublished.md"]["state"] == "draft"


# --- media (MED-02, MED-03) ------------------------------------------------------------------

MB = 1024 * 1024


def _med02_images(root: Path) -> None:
    media = root / "posts" / "media"
    images.write(media / "ridge.png", images.png(4, 3, pad_to=int(6.2 * MB)))
    images.write(media / "hut.jpg", images.jpeg())
    images.write(media / "map.png", images.png(4, 3))
    images.write(media / "team.jpg", images.jpeg())
    images.write(media / "timelapse.gif", images.gif())


def test_med02_count_size_and_gif_mixing_per_platform(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "med02_five_media.md")
    _med02_images(root)

    code, lines = check(run_cli, root)

    post = "posts/med02_five_media.md"
    assert lines == [
        f"{post}:6: error: mastodon: 5 images, mastodon allows 4",
        f"{post}:6: error: x: 5 images, x allows 4",
        f"{post}:6: error: x: X takes one animated GIF or up to 4 photos, not both",
        f"{post}:7: error: x: posts/media/ridge.png: 6.2 MB, over the 5 MB x accepts; "
        "make it smaller",
        "checked 1 post(s): 4 error(s), 0 warning(s)",
    ]
    assert code == 1


def _med03_images(root: Path) -> None:
    media = root / "posts" / "media"
    images.write(media / "contributors-2026.png", images.png(8, 4))
    images.write(media / "team-photo.jpg", images.jpeg())
    images.write(media / "badge.png", images.png(2, 2))
    images.write(media / "whiteboard.jpg", images.jpeg())


def test_med03_missing_alt_and_alt_too_long_for_x_only(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "med03_alt_text.md")
    _med03_images(root)

    code, lines = check(run_cli, root)

    post = "posts/med03_alt_text.md"
    assert lines == [
        f"{post}:10: error: mastodon: posts/media/team-photo.jpg: no alt text; describe the "
        "image with `alt:` (or set allow_missing_alt = true)",
        f"{post}:7: error: x: posts/media/contributors-2026.png: alt text is 1341 characters, "
        "over the 1000 x accepts; shorten it or give this platform its own media list",
        f"{post}:10: error: x: posts/media/team-photo.jpg: no alt text; describe the image with "
        "`alt:` (or set allow_missing_alt = true)",
        "checked 1 post(s): 3 error(s), 0 warning(s)",
    ]
    assert code == 1


def test_med03_missing_alt_is_accepted_when_the_configuration_allows_it(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "med03_alt_text.md",
                     config=BERLIN + "allow_missing_alt = true\n")
    _med03_images(root)

    code, lines = check(run_cli, root)

    assert code == 1  # the X alt text is still too long
    assert [line for line in lines if "team-photo" in line] == []


def test_mastodon_limit_comes_from_the_configuration(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "tt03_mastodon_498.md",
                     config=BERLIN + 'platforms = ["mastodon"]\nmastodon_max_characters = 497\n')

    code, lines = check(run_cli, root)

    assert lines[0] == (
        "posts/tt03_mastodon_498.md:5: error: mastodon: text is 498 characters (content warning "
        "included), over the 497 mastodon allows; shorten it, add a `mastodon: {text: ...}` "
        "override, or split it into a thread with a line `---`")
    assert code == 1


# --- the whole repository, GitHub annotations ------------------------------------------------

DONE_WHEN = ["x_too_long.md", "med03_alt_text.md", "date_dst_gap.md"]


def test_a_pull_request_with_the_three_classic_mistakes_fails_with_annotations(
        tmp_path: Path, run_cli: RunCli) -> None:
    """The issue's "done when": too long for X, an image without alt text, a DST-gap date."""
    root = make_site(tmp_path, *DONE_WHEN, config=BERLIN + 'platforms = ["mastodon", "x"]\n')
    _med03_images(root)

    code, lines = check(run_cli, root, "--format", "github")

    assert code == 1
    assert lines == [
        "::error file=posts/date_dst_gap.md,line=2::2027-03-28 02:30 does not exist in "
        "Europe/Berlin (the clocks skip it when summer time starts): choose another time or add "
        "an explicit offset",
        "::error file=posts/x_too_long.md,line=5::x: text is 353 characters, over the 280 x "
        "allows; shorten it, add a `x: {text: ...}` override, or split it into a thread with a "
        "line `---`",
        "::error file=posts/med03_alt_text.md,line=10::mastodon: posts/media/team-photo.jpg: no "
        "alt text; describe the image with `alt:` (or set allow_missing_alt = true)",
        "::error file=posts/med03_alt_text.md,line=7::x: posts/media/contributors-2026.png: alt "
        "text is 1341 characters, over the 1000 x accepts; shorten it or give this platform its "
        "own media list",
        "::error file=posts/med03_alt_text.md,line=10::x: posts/media/team-photo.jpg: no alt "
        "text; describe the image with `alt:` (or set allow_missing_alt = true)",
        "checked 3 post(s): 5 error(s), 0 warning(s)",
    ]


def test_github_format_escapes_newlines_and_percent(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path)
    (root / "posts" / "odd.md").write_text("---\ndate: 100% tomorrow\n---\nBody.\n")

    _, lines = check(run_cli, root, "--format", "github")

    assert lines[0] == ("::error file=posts/odd.md,line=2::date '100%25 tomorrow' is not "
                        "understood: write it as 2026-12-05 09:00 (optionally with an offset "
                        "such as +01:00 or Z)")


def test_check_given_paths_checks_only_those(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path, "date_dst_gap.md", "fm09_good_neighbour.md")

    code, lines = check(run_cli, root, str(root / "posts" / "fm09_good_neighbour.md"))

    assert (code, lines) == (0, ["checked 1 post(s): 0 error(s), 0 warning(s)"])


def test_check_of_a_missing_file_is_a_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path)

    code, lines = check(run_cli, root, str(root / "posts" / "nope.md"))

    assert code == 2
    assert lines == [f"error: {root / 'posts' / 'nope.md'}: no such file"]


def test_line_numbers_count_blank_lines_after_the_opening_delimiter(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = make_site(tmp_path)
    (root / "posts" / "gap.md").write_text("---\n\ntitle: x\ndate: 2026-12-05 25:00\n---\nB\n")

    _, lines = check(run_cli, root)

    assert lines[0] == ("posts/gap.md:4: error: date '2026-12-05 25:00' does not exist (hour "
                        "must be in 0..23)")

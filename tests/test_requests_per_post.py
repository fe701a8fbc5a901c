"""Requests per post, counted exactly by the loopback servers: Mastodon 1 status + 1 upload
per image (+ media polls only while the server is processing), X 1 post + 2 per image
(upload, alt text), the instance document at most once per run. bench/ reports the same."""

from __future__ import annotations

from collections import Counter

from tests.conftest import DATA, ROOT, RunCli, Site, credentials_env

IMAGES = [DATA / "images" / name for name in ("python.png", "python.jpg", "python.webp")]
IMAGES.append(ROOT / "posts" / "images" / "launch.png")
NOW = "2026-12-05T12:00:00Z"


def _posts(site: Site, count: int, images: list[int]) -> None:
    site.write("publisher.toml", f'timezone = "UTC"\nmax_per_run = {count}\n')
    for image in IMAGES:
        site.copy(image, f"posts/images/{image.name}")
    for i in range(count):
        media = "".join(f"  - path: images/{IMAGES[(i + k) % 4].name}\n"
                        f"    alt: Image {k + 1} of post {i}\n" for k in range(images[i]))
        site.write(f"posts/post-{i:02}.md",
                   f"---\ndate: 2026-12-05 11:{i:02}\nplatforms: [mastodon, x]\n"
                   + (f"media:\n{media}" if media else "")
                   + f"---\nPost {i}: https://example.org/{i} #bench 🚀\n")
    site.commit_all()


def _by_endpoint(server: object) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for method, path, _ in server.requests:  # type: ignore[attr-defined]
        path = path.rstrip("/")  # Mastodon.py asks for `/api/v2/instance/`
        if path.startswith("/api/v1/media/"):
            path = "/api/v1/media/:id"
        counts[method, path] += 1
    return counts


def test_twenty_posts_cost_one_request_each_plus_one_or_two_per_image(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    images = [i % 5 for i in range(20)]  # 0-4 images, 40 in all
    _posts(site, 20, images)

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    assert result.summary == "published 40, already published 0, not due 0, failed 0"
    mastodon = _by_endpoint(mastodon_server)
    instance = mastodon.pop(("GET", "/api/v2/instance"), 0) + mastodon.pop(
        ("GET", "/api/v1/instance"), 0)
    assert instance <= 1
    assert mastodon == {("POST", "/api/v1/statuses"): 20, ("POST", "/api/v2/media"): 40}
    assert _by_endpoint(x_server) == {("POST", "/2/tweets"): 20, ("POST", "/2/media/upload"): 40,
                                      ("POST", "/2/media/metadata"): 40}


def test_media_is_polled_only_while_the_server_is_processing_it(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _posts(site, 1, [2])
    mastodon_server.processing_polls = 2  # 202, then 206 twice, then 200
    x_server.processing_polls = 1  # pending, then in_progress once, then succeeded

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    mastodon = _by_endpoint(mastodon_server)
    assert mastodon["GET", "/api/v1/media/:id"] == 2 * 3
    assert mastodon["POST", "/api/v1/statuses"] == 1
    assert _by_endpoint(x_server)["GET", "/2/media/upload"] == 2 * 2

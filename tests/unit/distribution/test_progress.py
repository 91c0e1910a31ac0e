from berth.distribution.progress import Reporter, bar, error_message, human_size, short_id


def test_bar_and_sizes() -> None:
    assert (
        human_size(999) == "999B"
        and human_size(1500) == "1.5kB"
        and human_size(2_500_000) == "2.5MB"
    )
    assert bar(0, 100).startswith("[>")
    assert bar(100, 100).startswith("[" + "=" * 50 + "]")
    assert bar(50, 100).count("=") == 25
    assert short_id("sha256:" + "0123456789ab" + "f" * 52) == "0123456789ab"


def test_reporter_messages_and_throttling() -> None:
    out: list[dict] = []
    r = Reporter(out.append, interval=3600)
    r.status("Pulling fs layer", "abc")
    r.progress("Downloading", "abc", 10, 100)
    r.progress("Downloading", "abc", 20, 100)  # throttled
    r.progress("Downloading", "abc", 100, 100, final=True)
    r.status("Digest: sha256:x")
    assert out[0] == {"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"}
    assert [m.get("progressDetail") for m in out[1:3]] == [
        {"current": 10, "total": 100},
        {"current": 100, "total": 100},
    ]
    assert out[-1] == {"status": "Digest: sha256:x"}
    assert error_message("boom") == {"errorDetail": {"message": "boom"}, "error": "boom"}
    Reporter(None).status("ignored")  # quiet

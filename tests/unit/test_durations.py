from berth.durations import human_duration


def test_hours_round_half_up_as_go_does():
    # Python's round() is banker's: round(2.5) == 2; go-units says "3 hours"
    assert human_duration(2.5 * 3600) == "3 hours"
    assert human_duration(1.4 * 3600) == "About an hour"


def test_daemon_status_and_cli_created_use_the_same_words():
    from berth.cli import humanize
    from berth.daemon import view

    for seconds in (0.2, 1, 59, 61, 3599, 5400, 9000, 200000, 3e6, 4e7, 9e7):
        assert humanize.duration(seconds) == view.human_duration(seconds)

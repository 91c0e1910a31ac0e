from berth.daemon.restart import (
    INITIAL_DELAY,
    Policy,
    next_delay,
    restart_on_daemon_start,
    should_restart,
)


def test_policies():
    assert not should_restart(Policy("no"), 1, False, 0)
    assert should_restart(Policy("always"), 0, False, 5)
    assert not should_restart(Policy("always"), 0, True, 0)
    assert should_restart(Policy("unless-stopped"), 0, False, 0)
    assert not should_restart(Policy("on-failure"), 0, False, 0)
    assert should_restart(Policy("on-failure", 2), 1, False, 1)
    assert not should_restart(Policy("on-failure", 2), 1, False, 2)


def test_daemon_start():
    assert restart_on_daemon_start(Policy("always"), True)
    assert not restart_on_daemon_start(Policy("unless-stopped"), True)
    assert restart_on_daemon_start(Policy("unless-stopped"), False)
    assert not restart_on_daemon_start(Policy("on-failure"), False)


def test_backoff_doubles_and_resets():
    d = next_delay(0, 0)
    assert d == INITIAL_DELAY
    d = next_delay(d, 1)
    assert d == 2 * INITIAL_DELAY
    assert next_delay(d, 1) == 4 * INITIAL_DELAY
    assert next_delay(d, 11) == INITIAL_DELAY
    assert next_delay(100, 0) == 60.0


def test_policy_from_host_config():
    p = Policy.from_host_config({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    assert p == Policy("on-failure", 3)
    assert Policy.from_host_config({}) == Policy("no", 0)

from berth.distribution.auth import parse_challenges


def test_bearer_challenge_with_quoted_comma_scope() -> None:
    [c] = parse_challenges(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:library/busybox:pull,push"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:library/busybox:pull,push",
    }


def test_basic_and_several_challenges() -> None:
    assert parse_challenges('Basic realm="berth-registry"')[0].params == {"realm": "berth-registry"}
    schemes = [c.scheme for c in parse_challenges('Basic realm="a", Bearer realm="b",service=s')]
    assert schemes == ["basic", "bearer"]
    assert parse_challenges(None) == [] and parse_challenges("") == []

from berth.distribution.registry import HUB_ENDPOINT, RegistryOptions, endpoints, is_insecure


def test_loopback_is_insecure_by_default() -> None:
    opts = RegistryOptions()
    assert is_insecure("127.0.0.1:5000", opts)
    assert is_insecure("127.8.9.10", opts)
    assert is_insecure("localhost:5000", opts)
    assert is_insecure("[::1]:5000", opts)
    assert not is_insecure("10.0.0.1:5000", opts)
    assert not is_insecure("registry.example.com", opts)


def test_configured_insecure_hosts_and_cidrs() -> None:
    opts = RegistryOptions(insecure_registries=("10.0.0.0/8", "reg.lan:5000"))
    assert is_insecure("10.1.2.3:5000", opts)
    assert is_insecure("reg.lan:5000", opts)
    assert not is_insecure("reg.lan:6000", opts)


def test_endpoints_mirrors_only_for_hub() -> None:
    opts = RegistryOptions(mirrors=("http://127.0.0.1:6000", "https://mirror.example"))
    hub = endpoints("docker.io", opts)
    assert [(e.host, e.mirror) for e in hub] == [
        ("127.0.0.1:6000", True),
        ("mirror.example", True),
        (HUB_ENDPOINT, False),
    ]
    assert hub[0].schemes == ("https", "http") and hub[1].schemes == ("https",)
    [own] = endpoints("127.0.0.1:5000", opts)
    assert own.schemes == ("https", "http") and not own.secure
    [secure] = endpoints("quay.io", opts)
    assert secure.schemes == ("https",) and secure.secure


def test_registry_config_for_the_info_endpoint() -> None:
    from berth.distribution.registry import registry_config

    config = registry_config(("http://127.0.0.1:6000",), ("10.0.0.0/8", "reg.lan:5000", "::1"))
    assert config["Mirrors"] == ["http://127.0.0.1:6000"]
    assert config["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]
    assert config["IndexConfigs"]["docker.io"]["Mirrors"] == ["http://127.0.0.1:6000"]
    assert config["IndexConfigs"]["docker.io"]["Official"] is True
    assert config["IndexConfigs"]["reg.lan:5000"] == {
        "Name": "reg.lan:5000", "Mirrors": [], "Secure": False, "Official": False,
    }  # fmt: skip
    assert registry_config((), ())["InsecureRegistryCIDRs"] == ["127.0.0.0/8"]

"""The Engine API versions berthd speaks."""

API_VERSION = "1.43"
MIN_API_VERSION = "1.24"


def parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)

"""The test harness every tier shares: one way to start a private berthd or
dockerd, to poll with a deadline, to pick a free port, to make a network
namespace, and to find what a test left behind (mounts, processes).

Import the pieces from their modules (`from tests.support.berthd import
private_berthd`); conftest files turn them into fixtures.
"""

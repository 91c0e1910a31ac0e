from berth.linux.mountinfo import _unescape, mount_points, mounts_under


def test_unescape_octal_fields():
    assert _unescape(r"/a\040b\011c\134d") == "/a b\tc\\d"
    assert _unescape("/plain") == "/plain"


def test_reads_a_mountinfo_file(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw - ext4 /dev/root rw\n"
        "30 22 0:5 / /data/x rw - overlay overlay rw\n"
        r"31 30 0:6 / /data/x/y\040z rw - tmpfs tmpfs rw" + "\n"
    )
    assert mount_points(str(info)) == ["/", "/data/x", "/data/x/y z"]


def test_root_is_mounted_and_nothing_under_a_fresh_dir(tmp_path):
    assert "/" in mount_points()
    assert mounts_under(tmp_path) == []

"""berth.volumes: volume drivers (local), mount resolution for -v / --mount / --tmpfs, safe paths.

Public interface (for berth/daemon/volumes.py, the container service and the CLI):

- `berth.volumes.manager.VolumeManager(conn, data_root)`:
  create(name=None, driver=, labels=, options=) -> VolumeRecord; get(name); inspect(name) -> dict;
  list() -> [dict]; remove(name, force=); prune(all_volumes=, keep=) -> (names, bytes);
  resolve(container_id, [MountRequest], rootfs=None) -> [ResolvedMount(oci, inspect, volume)];
  release(container_id, remove_anonymous=) -> removed anonymous volume names.
- `berth.volumes.mounts.collect(binds, mounts, tmpfs, image_volumes, inherited)` -> [MountRequest]
  from HostConfig.Binds / Mounts / Tmpfs, the image's Config.Volumes and --volumes-from
  (`berth.volumes.manager.inherited_mounts(other_inspect_mounts, "ro"|"rw"|"")`).
  `parse_mount_flag("type=bind,src=..,dst=..")` turns a CLI --mount into a Mounts object.
- `berth.volumes.pathsafe`: resolve/open_in_root/host_path/stat_in_root, and
  `berth.volumes.archive`: archive/archive_stream/extract (re-exported by pathsafe),
  for HEAD/GET/PUT /containers/{id}/archive, never following a symlink out of the root.
"""

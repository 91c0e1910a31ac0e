"""berth.network: IPAM, drivers (bridge, host, none, container:), port publishing, embedded DNS.

Public interface (for berth/daemon/networks.py and the CLI):

- `berth.network.manager.NetworkManager(conn, ManagerConfig(exec_root=..., ...))`
  networks:   create_network(name, driver=, subnet=, gateway=, ip_range=, internal=,
              attachable=, labels=, options=) -> NetworkRecord; get(ref); list();
              remove(ref); prune(keep=) -> [names]; endpoints(ref)
  containers: register_container(id, name, network_mode, [EndpointRequest]) at create;
              setup(SandboxRequest) -> SandboxInfo(netns_path, hosts, resolv_conf, ports)
              before start; teardown(id) after exit; unregister_container(id) at rm;
              connect(ref, id, name, aliases=, ip=); disconnect(ref, id, force=);
              restore(running_ids) after a daemon restart; close().
- `berth.network.ports.parse_publish("8080:80/tcp")` -> PortBindings entries (CLI `-p`).
- `berth.network.hosts`: hosts_file(...), resolv_conf(...), parse_extra_host(...).
- `berth.network.driver`: the driver interface and its vocabulary (read it first);
  `sandbox` (start/exit of a container's namespace), `views` (Docker's JSON shapes),
  `ipam`, `plan`, `nat`, `netlink` (with `rtnl`, the start path's plain-socket requests),
  `dns`/`dnsmsg`, `proxy`/`ports`, `hosts`, `store`.
- ManagerConfig(userland_proxy=False): loopback connections to published ports go
  through kernel DNAT (route_localnet on berth's bridges only, packets from containers
  to 127.0.0.0/8 dropped); the proxy holds the ports and serves what DNAT does not.
- `berth.network.netlink.keep_open(netns)` / `release(netns)`: one netlink handle
  kept for a namespace (the manager keeps one on the host side for its life).
"""

"""berth.distribution: talking to registries, and being one.

Two halves that share only the wire protocol (OCI distribution spec v1.1, the
Docker Registry HTTP API V2):

- the client: `transport` (pooled HTTP), `auth` (WWW-Authenticate: basic,
  bearer), `credentials` (Docker's config.json, credential helpers),
  `registry` (endpoints, insecure registries, mirrors), `client` (the
  protocol for one endpoint), `session` (clients per domain with one
  credential lookup); on top, `pull`, `push` and `remote` (manifest inspect,
  distribution info, search, login), built on the images service and
  reporting Docker's JSON progress messages (`progress`);
- the server (`berth.distribution.server`): a registry on a filesystem store,
  `berth registry serve` / `berth registry garbage-collect`.

Public interface (for the CLI and daemon helpers; see docs/distribution.md):

    server.main(argv) -> int
    server.app.RegistryServer(root, (host, port), htpasswd=None, tls=None)
    server.gc.collect(root, grace=3600.0, dry_run=False) -> GCReport
    session.Session(options: RegistryOptions | None, credentials: Callable[[domain], Credential])
    pull.Puller(image_service, session, sources=, max_concurrent_downloads=3)
        .pull(reference, platform=None, all_tags=False, emit=None) -> [PullResult]
        (holds image_service.lease(); unpacks layers through import_layers as they arrive)
    push.Pusher(image_service, session, sources=, max_concurrent_uploads=5, chunk_size=None)
        .push(reference, all_tags=False, emit=None) -> [PushResult]   (holds a lease too)
    remote.inspect_manifest / distribution_info / search / login
    credentials.CredentialStore(config_dir).get / store / erase; default_config_dir()
    client.RegistryClient(endpoint, credential)   # the protocol itself
    testing: registries, OCI layouts, a faulty proxy, a private dockerd (tests, bench)
"""

"""berth.distribution: talking to registries, and being one.

Two halves that share only the wire protocol (OCI distribution spec v1.1, the
Docker Registry HTTP API V2):

- the client (`berth.distribution.client`, `auth`, `credentials`, `pull`,
  `push`): ping and auth challenges, manifests and blobs with digest checks,
  uploads; pull and push are built on the image package's content and image
  stores and report progress as Docker's JSON messages;
- the server (`berth.distribution.server`): a registry on a filesystem store,
  `berth registry serve` / `berth registry garbage-collect`.

Public interface (stable for the CLI and daemon helpers):

    berth.distribution.server.main(argv) -> int
    berth.distribution.server.app.RegistryServer(root, addr, htpasswd=None, tls=None)
    berth.distribution.server.gc.collect(root, grace=...) -> GCReport
    berth.distribution.client.RegistryClient(host, options, credentials)
    berth.distribution.credentials.CredentialStore(path)
    berth.distribution.pull / push / search / inspect (see their docstrings)
"""
